"""Prepare the Prefect server's PostgreSQL database once, before any API replica starts:
migrations plus the block types. With several `prefect server start --no-services` replicas
starting at once, each would otherwise register the block types in its startup and all but one
die on `uq_block_type__slug` (seen with two replicas here). deploy/cluster.env switches both
off at server start (PREFECT_SERVER_DATABASE_MIGRATE_ON_START, ..._REGISTER_BLOCKS_ON_START);
the local cluster and compose's migrate service run `python -m ops.prefect_db` instead.
Settings come from the environment (PREFECT_API_DATABASE_CONNECTION_URL)."""
from __future__ import annotations

import asyncio


async def prepare() -> None:
    from prefect.server.database import provide_database_interface
    from prefect.server.models.block_registration import run_block_auto_registration

    db = provide_database_interface()
    await db.create_db()  # the alembic migrations to head; idempotent
    async with await db.session() as session:
        await run_block_auto_registration(session=session)
        await session.commit()


def main() -> None:
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    url = PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    if not url.startswith("postgresql"):
        raise SystemExit(f"ops.prefect_db: PREFECT_API_DATABASE_CONNECTION_URL must name the cluster's PostgreSQL database, not {url.split('://')[0] or 'unset'}")
    asyncio.run(prepare())
    print(f"Prefect database at {url.split('@')[-1]}: migrated, block types registered")


if __name__ == "__main__":
    main()
