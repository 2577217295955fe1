import subprocess
import sys

r = subprocess.run([sys.executable, "-c", "raise SystemExit(42)"])
print("child exit code:", r.returncode)
