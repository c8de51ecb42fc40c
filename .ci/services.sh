# Sourced by .ci/run (as root): start the services the engine tests run against.
#  - PostgreSQL (Debian's postgresql): required; sets TESSERA_TEST_PG. Failure stops CI.
#  - single-node Slurm (Debian's slurm-wlm + munge): optional; sets TESSERA_TEST_SLURM=1 when up,
#    otherwise prints why and the Slurm tests skip with that message.
# Everything started here is stopped again (by PID / cluster) when .ci/run exits.
ci_stop_services() {
  if [ -n "${CI_STARTED_SLURM:-}" ]; then bash .ci/slurm-stop.sh >/dev/null 2>&1 || true; fi
  if [ -n "${CI_STARTED_PG:-}" ]; then pg_ctlcluster "$CI_STARTED_PG" main stop >/dev/null 2>&1 || true; fi
}
trap ci_stop_services EXIT

ci_start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "ci: installing postgresql"
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  local ver
  ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
  [ -n "$ver" ] || { echo "ci: ERROR: no PostgreSQL server installed" >&2; return 1; }
  pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$ver main" || pg_createcluster "$ver" main >/dev/null
  if ! pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main"{print $4}' | grep -q online; then
    pg_ctlcluster "$ver" main start
    CI_STARTED_PG=$ver
  fi
  local port
  port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main"{print $3}')
  for i in $(seq 1 30); do runuser -u postgres -- psql -p "$port" -qtAc 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
  runuser -u postgres -- psql -p "$port" -qtAc "SELECT 1 FROM pg_roles WHERE rolname='tessera'" | grep -q 1 ||
    runuser -u postgres -- psql -p "$port" -qc "CREATE ROLE tessera LOGIN PASSWORD 'tessera'"
  runuser -u postgres -- psql -p "$port" -qtAc "SELECT 1 FROM pg_database WHERE datname='tessera_test'" | grep -q 1 ||
    runuser -u postgres -- createdb -p "$port" -O tessera tessera_test
  export TESSERA_TEST_PG="postgres://tessera:tessera@127.0.0.1:${port}/tessera_test"
  echo "ci: PostgreSQL $ver up on port $port (TESSERA_TEST_PG set)"
}

ci_start_slurm() {
  if command -v sinfo >/dev/null && timeout 10 sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc'; then
    export TESSERA_TEST_SLURM=1
    echo "ci: Slurm already running (TESSERA_TEST_SLURM=1)"
    return 0
  fi
  if timeout 300 bash .ci/slurm-start.sh >/tmp/tessera-ci-slurm.log 2>&1 && timeout 10 sinfo -h -o %T | grep -qE 'idle|mix'; then
    CI_STARTED_SLURM=1
    export TESSERA_TEST_SLURM=1
    echo "ci: single-node Slurm up (TESSERA_TEST_SLURM=1)"
  else
    CI_STARTED_SLURM=1   # stop whatever part of it did start
    echo "ci: NOTE: single-node Slurm could not be started here (see /tmp/tessera-ci-slurm.log); the Slurm tests will skip"
    tail -5 /tmp/tessera-ci-slurm.log 2>/dev/null | sed 's/^/ci:   /'
  fi
}

ci_start_postgres || { echo "ci: ERROR: PostgreSQL could not be started; the PostgreSQL backend cannot be tested" >&2; exit 1; }
ci_start_slurm
