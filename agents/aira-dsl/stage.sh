#!/usr/bin/env bash
# Stage aira-dsl into agents/aira-dsl/stage/ for `docker build -t aira-dsl agents/aira-dsl/`:
#   stage/wheels/    a wheel of this checkout (with --with-deps also every dependency, plus what the
#                    Dockerfile installs for mlebench, so the image builds without a network)
#   stage/specs/ stage/prompts/ stage/runtimes/   the shipped agents, their prompts, sandbox profiles
# Usage: agents/aira-dsl/stage.sh [--with-deps]   (PYTHON=... picks the interpreter running pip;
#        AIRA_DSL_REPO=... the checkout to stage, default the one this script is in)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=${AIRA_DSL_REPO:-$(cd "$here/../.." && pwd)}
python=${PYTHON:-python3}
rm -rf "$here/stage"
mkdir -p "$here/stage/wheels"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$here/stage/wheels" "$repo"
if [ "${1:-}" = "--with-deps" ]; then
  "$python" -m pip download --quiet --only-binary=:all: --dest "$here/stage/wheels" \
    "$here"/stage/wheels/aira_dsl-*.whl appdirs diskcache py7zr tqdm pyyaml
fi
cp -r "$repo/specs" "$repo/prompts" "$repo/runtimes" "$here/stage/"
echo "staged into $here/stage: $(ls "$here/stage/wheels" | wc -l) wheel(s), specs, prompts, runtimes"
