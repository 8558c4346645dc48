"""The names ``tfbt`` exports at the top level: each one resolves, and ``import tfbt`` alone
stays instant (TensorFlow loads on first use of a name)."""

import subprocess
import sys

CHECK = """
import sys, tfbt
assert "tensorflow" not in sys.modules
public = [name for name in dir(tfbt) if not name.startswith("_")]
assert all(getattr(tfbt, name) is not None for name in public)
"""


def test_every_public_name_resolves_and_import_tfbt_loads_no_tensorflow():
    assert subprocess.run([sys.executable, "-c", CHECK], timeout=300).returncode == 0
