import subprocess
import sys

r = subprocess.run([sys.executable, "-c", "print('child here')"])
print("child exit code:", r.returncode)
