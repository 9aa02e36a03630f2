"""The vocabulary of authorization: what can be secured and what can be granted.

Kept free of persistence and HTTP so the same enums serve the REST guards, the
SQL dialect and the enforcer.
"""

from __future__ import annotations

from enum import StrEnum

#: The built-in group every principal belongs to, as on Databricks: grants and policies
#: may name it; it has no members to manage.
ACCOUNT_USERS = "account users"


class SecurableType(StrEnum):
    """Kinds of object in the namespace, in Unity Catalog's spelling."""

    METASTORE = "METASTORE"
    CATALOG = "CATALOG"
    SCHEMA = "SCHEMA"
    TABLE = "TABLE"
    MODEL = "MODEL"
    FUNCTION = "FUNCTION"
    SERVING_ENDPOINT = "SERVING_ENDPOINT"

    @property
    def depth(self) -> int:
        """Number of dotted name parts an object of this type has."""
        return _DEPTH[self]

    @property
    def parent_type(self) -> SecurableType | None:
        return _PARENT.get(self)


_DEPTH = {
    SecurableType.METASTORE: 0,
    SecurableType.CATALOG: 1,
    SecurableType.SCHEMA: 2,
    SecurableType.TABLE: 3,
    SecurableType.MODEL: 3,
    SecurableType.FUNCTION: 3,
    SecurableType.SERVING_ENDPOINT: 1,
}

_PARENT = {
    SecurableType.CATALOG: SecurableType.METASTORE,
    SecurableType.SCHEMA: SecurableType.CATALOG,
    SecurableType.TABLE: SecurableType.SCHEMA,
    SecurableType.MODEL: SecurableType.SCHEMA,
    SecurableType.FUNCTION: SecurableType.SCHEMA,
    SecurableType.SERVING_ENDPOINT: SecurableType.METASTORE,
}


#: The securable types of the permissions API: Unity Catalog's spelling, and ``model``,
#: the Databricks SDK's (``SecurableType.MODEL``), for a registered model.
API_SECURABLE_TYPES: dict[str, SecurableType] = {
    "metastore": SecurableType.METASTORE,
    "catalog": SecurableType.CATALOG,
    "schema": SecurableType.SCHEMA,
    "table": SecurableType.TABLE,
    "function": SecurableType.MODEL,
    "registered_model": SecurableType.MODEL,
    "model": SecurableType.MODEL,
    "serving_endpoint": SecurableType.SERVING_ENDPOINT,
}


class Privilege(StrEnum):
    """Privileges of docs/privileges.md, spelled as in SQL."""

    CREATE_CATALOG = "CREATE CATALOG"
    USE_CATALOG = "USE CATALOG"
    CREATE_SCHEMA = "CREATE SCHEMA"
    USE_SCHEMA = "USE SCHEMA"
    CREATE_TABLE = "CREATE TABLE"
    CREATE_MODEL = "CREATE MODEL"
    CREATE_MODEL_VERSION = "CREATE MODEL VERSION"
    CREATE_FUNCTION = "CREATE FUNCTION"
    SELECT = "SELECT"
    MODIFY = "MODIFY"
    EXECUTE = "EXECUTE"
    APPLY_TAG = "APPLY TAG"
    QUERY = "QUERY"
    BROWSE = "BROWSE"
    MANAGE = "MANAGE"
    ALL_PRIVILEGES = "ALL PRIVILEGES"
    # Not grantable: what only an owner (or whoever may act as one) can do.
    OWNERSHIP = "OWNERSHIP"
