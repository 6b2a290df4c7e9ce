#!/usr/bin/env bash
# aira-dsl's entry point in MLE-bench's agent harness: agents/run.py runs `bash start.sh --spec NAME`
# (the kwargs of config.yaml) as its non-root user, with TIME_LIMIT_SECS, STEP_LIMIT and
# COMPETITION_ID set. Every folder can be overridden by its variable, so this also runs outside the
# harness (tests do that):
#   DATA_DIR (/home/data)  SUBMISSION_DIR (/home/submission)  LOGS_DIR (/home/logs)
#   CODE_DIR (/home/code)  AGENT_DIR (/home/agent)  AIRA_DSL_HOME (specs/, prompts/, runtimes/)
#   AIRA_PYTHON (the agent environment's interpreter)  AIRA_DSL_CACHE (unpacked data, probes)
# The real work is in aira_dsl/harness.py (python -m aira_dsl.harness --help).
set -uo pipefail

: "${DATA_DIR:=/home/data}" "${SUBMISSION_DIR:=/home/submission}" "${LOGS_DIR:=/home/logs}"
: "${CODE_DIR:=/home/code}" "${AGENT_DIR:=/home/agent}"
: "${AIRA_DSL_CACHE:=$AGENT_DIR/aira-cache}"
export DATA_DIR SUBMISSION_DIR LOGS_DIR CODE_DIR AGENT_DIR AIRA_DSL_CACHE
mkdir -p "$SUBMISSION_DIR" "$LOGS_DIR" "$CODE_DIR" "$AGENT_DIR" "$AIRA_DSL_CACHE"

python=${AIRA_PYTHON:-}
if [ -z "$python" ]; then
  if [ -x /opt/conda/envs/agent/bin/python ]; then python=/opt/conda/envs/agent/bin/python
  else python=$(command -v python3); fi
fi

# The hardware the harness gave this container (aira_dsl.harness shares these GPUs among workers).
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name --format=csv,noheader >/dev/null 2>&1; then
  echo "aira-dsl: GPUs: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | paste -sd ';' -)"
else
  echo "aira-dsl: no GPU visible (nvidia-smi absent or lists none)"
fi

if [ -n "${TIME_LIMIT_SECS:-}" ]; then
  # The run's own budget ends a little earlier (aira_dsl.harness); this is the hard stop.
  timeout --signal=TERM --kill-after=60 "$TIME_LIMIT_SECS" "$python" -m aira_dsl.harness "$@"
  status=$?
  if [ "$status" -eq 124 ]; then
    echo "aira-dsl: stopped at TIME_LIMIT_SECS=$TIME_LIMIT_SECS; the best submission so far is in $SUBMISSION_DIR"
  fi
else
  "$python" -m aira_dsl.harness "$@"
  status=$?
fi
exit "$status"
