# Shared by scripts/*.sh: the Node toolchain and this project's dependencies.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

node_ok() { command -v node >/dev/null && node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; }
if ! node_ok; then
  echo "gomelctl needs Node.js >= 20.19 with npm (found: $(node --version 2>/dev/null || echo none)); install it and run this again" >&2
  exit 1
fi
# Reinstall only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.gomelctl-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.gomelctl-lock
fi
