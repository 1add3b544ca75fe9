"""Every table goes through one pynamodb connection, so a process makes one botocore client, not one per table."""

from chalicelib.store.tables import ALL_TABLES, ClaimItem, RoutineItem, read


def test_every_table_shares_one_connection_and_its_client() -> None:
    assert len({id(model._get_connection().connection) for model in ALL_TABLES}) == 1
    read(ClaimItem, "connection#none")
    read(RoutineItem, "connection#none")  # a second table's first request makes no client of its own
    assert len({id(model._get_connection().connection.client) for model in ALL_TABLES}) == 1
