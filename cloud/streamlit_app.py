"""Community Cloud's entrypoint: the same app as app.py, deployed from main.

Community Cloud installs the requirements.txt next to the entrypoint first, so this folder's
file pins torch's CPU wheels (the default wheels pull about 2.5 GB of CUDA libraries, more than
the host's disk and memory allow) while the root requirements.txt stays for everyone else.
"""

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # Streamlit puts only this folder on the path; resviz is at the root
    sys.path.insert(0, str(ROOT))
runpy.run_path(str(ROOT / "app.py"), run_name="__main__")
