from alembic import context

from xuc.runtime.db import run_alembic_env

run_alembic_env(context)
