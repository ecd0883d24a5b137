"""The only Streamlit-aware package code: sidebar, forms returning configs, session state,
caches."""
