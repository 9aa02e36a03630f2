"""SQLAlchemy implementation of the catalog stores, shared by SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.persistence import schema as t
from catalog.persistence.driver import DriverStatement
from catalog.persistence.engine import READ_ONLY_INFO
from catalog.records import (
    ColumnRecord,
    MetastoreRecord,
    PolicyFunctionRef,
    PrincipalRecord,
    SecurableRecord,
    TableDetailRecord,
    TokenRecord,
)
from catalog.store.base import (
    NAMESPACE_ADDED_INFO,
    NAMESPACE_CHANGED_INFO,
    IdentityStore,
    NamespaceStore,
)
from catalog.store.create_statement import MAX_COLUMNS, create_parameters, create_statement
from common.errors import AlreadyExists
from policy.securables import SecurableType

# Reads select columns, not entities, and unpack rows by position: loading ORM objects, or
# reading a Row's fields by name, costs several times the query itself on a page of
# 50 tables (see benchmarks/README.md). Mapped attributes keep the session's autoflush.
_SECURABLE_COLUMNS = (
    t.Securable.id,
    t.Securable.securable_type,
    t.Securable.parent_id,
    t.Securable.name,
    t.Securable.full_name,
    t.Securable.owner,
    t.Securable.created_at,
    t.Securable.created_by,
    t.Securable.comment,
    t.Securable.properties,
    t.Securable.storage_root,
    t.Securable.storage_location,
    t.Securable.updated_at,
    t.Securable.updated_by,
)
_DETAIL_COLUMNS = (
    t.TableDetail.securable_id,
    t.TableDetail.table_type,
    t.TableDetail.data_source_format,
    t.TableDetail.view_definition,
    t.TableDetail.primary_key_name,
    t.TableDetail.primary_key_columns,
    t.TableDetail.timeseries_column,
    t.TableDetail.row_filter_function,
    t.TableDetail.row_filter_columns,
)
_COLUMN_COLUMNS = (
    t.TableColumn.table_id,
    t.TableColumn.name,
    t.TableColumn.type_text,
    t.TableColumn.type_name,
    t.TableColumn.position,
    t.TableColumn.nullable,
    t.TableColumn.comment,
    t.TableColumn.type_json,
    t.TableColumn.type_precision,
    t.TableColumn.type_scale,
    t.TableColumn.type_interval_type,
    t.TableColumn.partition_index,
    t.TableColumn.mask_function,
    t.TableColumn.mask_using_columns,
)


def _to_securable(row: Sequence[Any]) -> SecurableRecord:
    """A record from a row of ``_SECURABLE_COLUMNS``."""
    (
        id_,
        securable_type,
        parent_id,
        name,
        full_name,
        owner,
        created_at,
        created_by,
        comment,
        properties,
        storage_root,
        storage_location,
        updated_at,
        updated_by,
    ) = row
    return SecurableRecord(
        id=id_,
        securable_type=SecurableType(securable_type),
        parent_id=parent_id,
        name=name,
        full_name=full_name,
        owner=owner,
        comment=comment,
        properties=dict(properties or {}),
        storage_root=storage_root,
        storage_location=storage_location,
        created_at=created_at,
        created_by=created_by,
        updated_at=updated_at,
        updated_by=updated_by,
    )


def _to_principal(row: t.Principal) -> PrincipalRecord:
    return PrincipalRecord(
        id=row.id,
        kind=row.kind,
        name=row.name,
        display_name=row.display_name,
        active=row.active,
        is_metastore_admin=row.is_metastore_admin,
        created_at=row.created_at,
    )


def _to_token(row: t.AccessToken) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        principal_id=row.principal_id,
        token_hash=row.token_hash,
        comment=row.comment,
        created_at=row.created_at,
        expiry_time=row.expiry_time,
        created_by=row.created_by,
    )


class SqlNamespaceStore(NamespaceStore):
    def __init__(self, session: Session) -> None:
        self.session = session

    def reads_committed(self) -> bool:
        return bool(self.session.info.get(READ_ONLY_INFO))

    def _changed(self) -> None:
        """Every write below marks its transaction: caches drop the namespace at commit."""
        self.session.info[NAMESPACE_CHANGED_INFO] = True

    def _added(self, record: SecurableRecord) -> None:
        """An insert marks only what it adds: an object created is new to every cache,
        except as a name someone asked for and did not find, and in its parent's lists."""
        added: dict[str, tuple[str, str | None]] = self.session.info.setdefault(
            NAMESPACE_ADDED_INFO, {}
        )
        added[record.id] = (record.full_name, record.parent_id)

    def get_metastore(self) -> MetastoreRecord | None:
        row = self.session.scalars(select(t.Metastore).limit(1)).first()
        if row is None:
            return None
        return MetastoreRecord(row.id, row.name, row.owner, row.created_at)

    def insert_metastore(self, record: MetastoreRecord) -> None:
        self._changed()
        self.session.add(
            t.Metastore(
                id=record.id, name=record.name, owner=record.owner, created_at=record.created_at
            )
        )
        self.session.flush()

    def get(self, securable_type: SecurableType, full_name: str) -> SecurableRecord | None:
        rows = self._driver_rows(
            _BY_NAME_AND_TYPE, {"full_name": full_name, "securable_type": securable_type.value}
        )
        return _to_securable(rows[0]) if rows else None

    def get_by_id(self, securable_type: SecurableType, securable_id: str) -> SecurableRecord | None:
        row = self.session.execute(
            select(*_SECURABLE_COLUMNS).where(
                t.Securable.id == securable_id,
                t.Securable.securable_type == securable_type.value,
            )
        ).first()
        return _to_securable(row) if row else None

    def find_by_id(self, securable_id: str) -> SecurableRecord | None:
        row = self.session.execute(
            select(*_SECURABLE_COLUMNS).where(t.Securable.id == securable_id)
        ).first()
        return _to_securable(row) if row else None

    def get_by_full_name(self, full_name: str) -> SecurableRecord | None:
        row = self.session.execute(
            select(*_SECURABLE_COLUMNS).where(t.Securable.full_name == full_name)
        ).first()
        return _to_securable(row) if row else None

    def get_many(self, full_names: Iterable[str]) -> dict[str, SecurableRecord]:
        names = list(set(full_names))
        if not names:
            return {}
        by_names = _BY_NAMES.get(len(names))
        if by_names is not None:  # a chain: a few names
            rows: Iterable[Sequence[Any]] = self._driver_rows(
                by_names, {f"name_{i}": name for i, name in enumerate(names)}
            )
        else:
            rows = self.session.execute(
                select(*_SECURABLE_COLUMNS).where(t.Securable.full_name.in_(names))
            )
        records = (_to_securable(row) for row in rows)
        return {record.full_name: record for record in records}

    def _driver_rows(
        self, statement: DriverStatement, params: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        """``statement``'s rows, after the session's pending changes (as its autoflush
        would have them before a query)."""
        self.session.flush()
        return statement.all(self.session.connection(), params)

    def insert(self, record: SecurableRecord) -> None:
        """A failed insert leaves the transaction to be rolled back (on PostgreSQL it can
        do nothing else): every caller lets :class:`AlreadyExists` end it."""
        self.session.flush()  # pending ORM rows first: the driver's INSERT runs at once
        connection = self.session.connection()
        try:
            _INSERT_SECURABLE.executemany(connection, [_securable_row(record)])
        except connection.dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
            raise AlreadyExists(f"'{record.full_name}' already exists") from exc
        self._added(record)

    def insert_child(
        self,
        record: SecurableRecord,
        parent_type: SecurableType,
        parent_name: str,
        detail: TableDetailRecord | None = None,
    ) -> SecurableRecord | None:
        self.session.flush()  # pending ORM rows first: the driver's statements run at once
        connection = self.session.connection()
        columns = detail.columns if detail is not None else []
        if connection.dialect.name != "postgresql" or len(columns) > MAX_COLUMNS:
            parent = self.get(parent_type, parent_name)
            if parent is None:
                return None
            record = replace(record, parent_id=parent.id)
            self.insert(record)
            if detail is not None:
                self.insert_table_detail(record.id, detail)
            return record
        params = create_parameters(
            parent_name,
            parent_type.value,
            _securable_row(record),
            _detail_row(record.id, detail) if detail is not None else None,
            [_column_values(record.id, c) for c in columns],
        )
        try:
            rows = create_statement(detail is not None, len(columns)).all(connection, params)
        except connection.dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
            if exc.diag.table_name != t.Securable.__tablename__:
                raise
            if exc.sqlstate == _FOREIGN_KEY_VIOLATION:
                return None  # the parent was dropped by a transaction that committed since
            raise AlreadyExists(f"'{record.full_name}' already exists") from exc
        if not rows:
            return None
        record = replace(record, parent_id=rows[0][0])
        self._added(record)
        return record

    def list_children(
        self,
        parent_id: str | None,
        securable_types: Sequence[SecurableType],
        after_name: str | None,
        limit: int,
    ) -> list[SecurableRecord]:
        query = select(*_SECURABLE_COLUMNS).where(
            t.Securable.securable_type.in_([s.value for s in securable_types])
        )
        query = query.where(
            t.Securable.parent_id.is_(None)
            if parent_id is None
            else t.Securable.parent_id == parent_id
        )
        if after_name is not None:
            query = query.where(t.Securable.name > after_name)
        query = query.order_by(t.Securable.name).limit(limit)
        return [_to_securable(row) for row in self.session.execute(query)]

    def list_by_type(
        self, securable_type: SecurableType, after_full_name: str | None, limit: int
    ) -> list[SecurableRecord]:
        query = select(*_SECURABLE_COLUMNS).where(
            t.Securable.securable_type == securable_type.value
        )
        if after_full_name is not None:
            query = query.where(t.Securable.full_name > after_full_name)
        query = query.order_by(t.Securable.full_name).limit(limit)
        return [_to_securable(row) for row in self.session.execute(query)]

    def descendant_ids(self, full_name: str) -> list[str]:
        return list(
            self.session.scalars(
                select(t.Securable.id).where(
                    t.Securable.full_name.startswith(full_name + ".", autoescape=True)
                )
            )
        )

    def has_children(self, parent_id: str) -> bool:
        return bool(self.session.scalar(select(exists().where(t.Securable.parent_id == parent_id))))

    def update(self, record: SecurableRecord) -> None:
        self._changed()
        self.session.execute(
            update(t.Securable)
            .where(t.Securable.id == record.id)
            .values(
                comment=record.comment,
                properties=record.properties,
                owner=record.owner,
                updated_at=record.updated_at,
                updated_by=record.updated_by,
            )
        )

    def rename(self, record: SecurableRecord, new_name: str, new_full_name: str) -> None:
        self._changed()
        old_prefix = record.full_name + "."
        try:
            with self.session.begin_nested():
                self.session.execute(
                    update(t.Securable)
                    .where(t.Securable.id == record.id)
                    .values(
                        name=new_name,
                        full_name=new_full_name,
                        updated_at=record.updated_at,
                        updated_by=record.updated_by,
                    )
                )
                self.session.execute(
                    update(t.Securable)
                    .where(t.Securable.full_name.startswith(old_prefix, autoescape=True))
                    .values(
                        full_name=new_full_name
                        + "."
                        + func.substr(t.Securable.full_name, len(old_prefix) + 1)
                    )
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"'{new_full_name}' already exists") from exc

    def delete(self, securable_id: str) -> None:
        self._changed()
        self.session.execute(delete(t.Securable).where(t.Securable.id == securable_id))

    def insert_table_detail(self, securable_id: str, detail: TableDetailRecord) -> None:
        if securable_id not in self.session.info.get(NAMESPACE_ADDED_INFO, {}):
            self._changed()  # a detail of a table that existed before: it changed
        # Pending ORM rows first: the driver's statements run at once, in call order.
        self.session.flush()
        connection = self.session.connection()
        _INSERT_DETAIL.executemany(connection, [_detail_row(securable_id, detail)])
        if detail.columns:
            _INSERT_COLUMNS.executemany(
                connection, [_column_values(securable_id, c) for c in detail.columns]
            )

    def replace_table_detail(self, securable_id: str, detail: TableDetailRecord) -> None:
        self.session.execute(delete(t.TableColumn).where(t.TableColumn.table_id == securable_id))
        self.session.execute(
            delete(t.TableDetail).where(t.TableDetail.securable_id == securable_id)
        )
        self.insert_table_detail(securable_id, detail)

    def add_columns(self, securable_id: str, columns: Sequence[ColumnRecord]) -> None:
        self._changed()
        self.session.flush()
        if columns:
            _INSERT_COLUMNS.executemany(
                self.session.connection(), [_column_values(securable_id, c) for c in columns]
            )

    def get_table_details(self, securable_ids: Sequence[str]) -> dict[str, TableDetailRecord]:
        if not securable_ids:
            return {}
        details = {
            securable_id: TableDetailRecord(
                table_type=table_type,
                data_source_format=data_source_format,
                view_definition=view_definition,
                primary_key_name=primary_key_name,
                primary_key_columns=primary_key_columns,
                timeseries_column=timeseries_column,
                row_filter=_policy_ref(row_filter_function, row_filter_columns),
            )
            for (
                securable_id,
                table_type,
                data_source_format,
                view_definition,
                primary_key_name,
                primary_key_columns,
                timeseries_column,
                row_filter_function,
                row_filter_columns,
            ) in self.session.execute(
                select(*_DETAIL_COLUMNS).where(t.TableDetail.securable_id.in_(securable_ids))
            )
        }
        columns = self.session.execute(
            select(*_COLUMN_COLUMNS)
            .where(t.TableColumn.table_id.in_(securable_ids))
            .order_by(t.TableColumn.table_id, t.TableColumn.position)
        )
        for (
            table_id,
            name,
            type_text,
            type_name,
            position,
            nullable,
            comment,
            type_json,
            type_precision,
            type_scale,
            type_interval_type,
            partition_index,
            mask_function,
            mask_using_columns,
        ) in columns:
            detail = details.get(table_id)
            if detail is not None:
                detail.columns.append(
                    ColumnRecord(
                        name=name,
                        type_text=type_text,
                        type_name=type_name,
                        position=position,
                        nullable=nullable,
                        comment=comment,
                        type_json=type_json,
                        type_precision=type_precision,
                        type_scale=type_scale,
                        type_interval_type=type_interval_type,
                        partition_index=partition_index,
                        mask=_policy_ref(mask_function, mask_using_columns),
                    )
                )
        return details

    def set_row_filter(self, securable_id: str, row_filter: PolicyFunctionRef | None) -> None:
        self._changed()
        self.session.execute(
            update(t.TableDetail)
            .where(t.TableDetail.securable_id == securable_id)
            .values(
                row_filter_function=_function_of(row_filter),
                row_filter_columns=_columns_of(row_filter),
            )
        )

    def set_column_mask(
        self, securable_id: str, position: int, mask: PolicyFunctionRef | None
    ) -> None:
        self._changed()
        self.session.execute(
            update(t.TableColumn)
            .where(t.TableColumn.table_id == securable_id, t.TableColumn.position == position)
            .values(mask_function=_function_of(mask), mask_using_columns=_columns_of(mask))
        )


# Lookups by name (a securable chain, a create's parent) run on the driver: SQLAlchemy's
# execution of the query cost more than the query (a GRANT's chain was 13% of its CPU).
_BY_NAME_AND_TYPE = DriverStatement(
    select(*_SECURABLE_COLUMNS).where(
        t.Securable.full_name == bindparam("full_name"),
        t.Securable.securable_type == bindparam("securable_type"),
    )
)
#: By the number of names: up to a table's chain and a little more.
_BY_NAMES = {
    count: DriverStatement(
        select(*_SECURABLE_COLUMNS).where(
            t.Securable.full_name.in_([bindparam(f"name_{i}") for i in range(count)])
        )
    )
    for count in range(1, 5)
}

# A create writes its securable, a table's detail and columns as plain INSERTs on the
# driver (catalog/persistence/driver.py): the ORM's unit of work for them, and the
# savepoint its duplicate check needed, were a third of a create's database work.
_SECURABLE_KEYS = [column.key for column in _SECURABLE_COLUMNS]
_INSERT_SECURABLE = DriverStatement(insert(t.Securable.__table__), column_keys=_SECURABLE_KEYS)
_INSERT_DETAIL = DriverStatement(
    insert(t.TableDetail.__table__), column_keys=[column.key for column in _DETAIL_COLUMNS]
)
_INSERT_COLUMNS = DriverStatement(
    insert(t.TableColumn.__table__),
    column_keys=[column.name for column in t.TableColumn.__table__.columns],
)


def _securable_row(record: SecurableRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "securable_type": record.securable_type.value,
        "parent_id": record.parent_id,
        "name": record.name,
        "full_name": record.full_name,
        "owner": record.owner,
        "created_at": record.created_at,
        "created_by": record.created_by,
        "comment": record.comment,
        "properties": record.properties,
        "storage_root": record.storage_root,
        "storage_location": record.storage_location,
        "updated_at": record.updated_at,
        "updated_by": record.updated_by,
    }


#: PostgreSQL's SQLSTATE for a foreign key without its row.
_FOREIGN_KEY_VIOLATION = "23503"


def _detail_row(securable_id: str, detail: TableDetailRecord) -> dict[str, Any]:
    return {
        "securable_id": securable_id,
        "table_type": detail.table_type,
        "data_source_format": detail.data_source_format,
        "view_definition": detail.view_definition,
        "primary_key_name": detail.primary_key_name,
        "primary_key_columns": detail.primary_key_columns,
        "timeseries_column": detail.timeseries_column,
        "row_filter_function": _function_of(detail.row_filter),
        "row_filter_columns": _columns_of(detail.row_filter),
    }


def _column_values(securable_id: str, c: ColumnRecord) -> dict[str, Any]:
    return {
        "table_id": securable_id,
        "position": c.position,
        "name": c.name,
        "type_text": c.type_text,
        "type_name": c.type_name,
        "type_json": c.type_json,
        "type_precision": c.type_precision,
        "type_scale": c.type_scale,
        "type_interval_type": c.type_interval_type,
        "nullable": c.nullable,
        "comment": c.comment,
        "partition_index": c.partition_index,
        "mask_function": _function_of(c.mask),
        "mask_using_columns": _columns_of(c.mask),
    }


def _function_of(ref: PolicyFunctionRef | None) -> str | None:
    return ref.function_name if ref is not None else None


def _columns_of(ref: PolicyFunctionRef | None) -> list[str] | None:
    return list(ref.columns) if ref is not None else None


def _policy_ref(function_name: str | None, columns: list[str] | None) -> PolicyFunctionRef | None:
    if function_name is None:
        return None
    return PolicyFunctionRef(function_name, tuple(columns or ()))


class SqlIdentityStore(IdentityStore):
    def __init__(self, session: Session) -> None:
        self.session = session

    def insert_principal(self, record: PrincipalRecord) -> None:
        row = t.Principal(
            id=record.id,
            kind=record.kind,
            name=record.name,
            display_name=record.display_name,
            active=record.active,
            is_metastore_admin=record.is_metastore_admin,
            created_at=record.created_at,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            raise AlreadyExists(f"principal '{record.name}' already exists") from exc

    def get_principal_by_name(self, name: str) -> PrincipalRecord | None:
        row = self.session.scalars(select(t.Principal).where(t.Principal.name == name)).first()
        return _to_principal(row) if row else None

    def get_principal(self, principal_id: str) -> PrincipalRecord | None:
        row = self.session.get(t.Principal, principal_id)
        return _to_principal(row) if row else None

    def list_principals(
        self, kinds: Sequence[str], name_equals: str | None, offset: int, limit: int
    ) -> tuple[list[PrincipalRecord], int]:
        where = [t.Principal.kind.in_(list(kinds))]
        if name_equals is not None:
            where.append(t.Principal.name == name_equals)
        total = self.session.scalar(select(func.count()).select_from(t.Principal).where(*where))
        rows = self.session.scalars(
            select(t.Principal).where(*where).order_by(t.Principal.name).offset(offset).limit(limit)
        )
        return [_to_principal(r) for r in rows], int(total or 0)

    def count_principals(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(t.Principal)) or 0)

    def update_principal(self, record: PrincipalRecord) -> None:
        self.session.execute(
            update(t.Principal)
            .where(t.Principal.id == record.id)
            .values(display_name=record.display_name, active=record.active)
        )

    def delete_principal(self, principal_id: str) -> None:
        self.session.execute(delete(t.Principal).where(t.Principal.id == principal_id))

    def add_member(self, group_id: str, member_id: str) -> None:
        already = self.session.get(t.GroupMember, (group_id, member_id))
        if already is None:
            self.session.add(t.GroupMember(group_id=group_id, member_id=member_id))
            self.session.flush()

    def remove_member(self, group_id: str, member_id: str) -> None:
        self.session.execute(
            delete(t.GroupMember).where(
                t.GroupMember.group_id == group_id, t.GroupMember.member_id == member_id
            )
        )

    def members_of(self, group_id: str) -> list[PrincipalRecord]:
        rows = self.session.scalars(
            select(t.Principal)
            .join(t.GroupMember, t.GroupMember.member_id == t.Principal.id)
            .where(t.GroupMember.group_id == group_id)
            .order_by(t.Principal.name)
        )
        return [_to_principal(r) for r in rows]

    def groups_of(self, principal_ids: Sequence[str]) -> list[tuple[str, str]]:
        if not principal_ids:
            return []
        rows = self.session.execute(
            select(t.GroupMember.member_id, t.GroupMember.group_id).where(
                t.GroupMember.member_id.in_(list(principal_ids))
            )
        )
        return [(m, g) for m, g in rows]

    def insert_token(self, record: TokenRecord) -> None:
        self.session.add(
            t.AccessToken(
                id=record.id,
                principal_id=record.principal_id,
                token_hash=record.token_hash,
                comment=record.comment,
                created_at=record.created_at,
                expiry_time=record.expiry_time,
                created_by=record.created_by,
            )
        )
        self.session.flush()

    def find_token(self, token_hash: str) -> tuple[TokenRecord, PrincipalRecord] | None:
        row = self.session.execute(
            select(t.AccessToken, t.Principal)
            .join(t.Principal, t.Principal.id == t.AccessToken.principal_id)
            .where(t.AccessToken.token_hash == token_hash)
        ).first()
        if row is None:
            return None
        return _to_token(row[0]), _to_principal(row[1])

    def list_tokens(self, principal_id: str | None) -> list[TokenRecord]:
        query = select(t.AccessToken).order_by(t.AccessToken.created_at)
        if principal_id is not None:
            query = query.where(t.AccessToken.principal_id == principal_id)
        return [_to_token(r) for r in self.session.scalars(query)]

    def get_token(self, token_id: str) -> TokenRecord | None:
        row = self.session.get(t.AccessToken, token_id)
        return _to_token(row) if row else None

    def update_token_comment(self, token_id: str, comment: str | None) -> None:
        self.session.execute(
            update(t.AccessToken).where(t.AccessToken.id == token_id).values(comment=comment)
        )

    def delete_token(self, token_id: str) -> None:
        self.session.execute(delete(t.AccessToken).where(t.AccessToken.id == token_id))
