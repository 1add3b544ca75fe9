"""Creates the tables from the pynamodb models, idempotently."""

from pynamodb.connection import Connection

from chalicelib.store.tables import ALL_TABLES, TTL_ATTRIBUTES


def create_tables() -> list[str]:
    """Creates every missing table (with its indexes and TTL); returns the names it created."""
    created = []
    for model in ALL_TABLES:
        if model.exists():
            continue
        model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
        ttl = TTL_ATTRIBUTES.get(model)
        if ttl:
            connection: Connection = model._get_connection().connection
            connection.client.update_time_to_live(
                TableName=model.Meta.table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl},
            )
        created.append(model.Meta.table_name)
    return created
