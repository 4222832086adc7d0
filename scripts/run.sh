#!/usr/bin/env bash
# make run: everything a newcomer needs to try the tutor on one machine.
#  - a local PostgreSQL under .data/pg when DATABASE_URL is unset (kept between runs)
#  - the offline speech engines (espeak-ng, pocketsphinx) when no OpenAI key is set
#  - build, migrate, seed, print a learner and an admin token, serve on :3001
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

[ -f .env ] && { set -a; source .env; set +a; }
export APP_ENV=${APP_ENV:-development}
export PORT=${PORT:-3001}

if [ -z "${DATABASE_URL:-}" ] && [ -z "${DB_HOST:-}" ]; then
  mkdir -p .data
  chmod 755 .data
  port_file=.data/pg.port
  [ -s $port_file ] || scripts/pg.sh freeport > $port_file
  export DATABASE_URL=$(scripts/pg.sh start .data/pg "$(cat $port_file)")
  echo "PostgreSQL: $DATABASE_URL (data in .data/pg; stop it with: scripts/pg.sh stop .data/pg)"
fi

provider=${AI_PROVIDER:-}
if [ -z "$provider" ] && [ -z "${OPENAI_API_KEY:-}" ]; then provider=offline; fi
if [ "$provider" = offline ]; then
  read -r -a need <<<"$(offline_packages)"
  if [ ${#need[@]} -gt 0 ] && ! apt_install "${need[@]}"; then
    echo "The offline voice engines are missing (see above). Or set OPENAI_API_KEY, or AI_PROVIDER=sim for the built-in simulator." >&2
    exit 1
  fi
fi

tags=$(go_tags)
echo "building aitutor${tags:+ (tags: $tags)}"
go build -tags "$tags" -o bin/aitutor ./cmd/aitutor

bin/aitutor seed
learner=$(bin/aitutor token --email learner@example.com)
admin=$(bin/aitutor token --email admin@example.com)
cat <<MSG

  Open http://localhost:$PORT and sign in as learner@example.com / learner-demo-pass
  (admin: admin@example.com / admin-demo-pass) — these demo passwords exist only in development.

  Learner token: $learner
  Admin token:   $admin

  curl -H "Authorization: Bearer \$TOKEN" http://localhost:$PORT/api/users/me

MSG
exec bin/aitutor serve
