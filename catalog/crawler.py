"""The crawler: find tables, schemas and Hive-style partitions in a folder of data files.

A loose file at the top level is a table named after its stem. A folder whose files share one
format and a compatible schema is one table named after the folder, and `key=value` subfolders
are its partitions. A folder that contains plain subfolders is searched further. On a re-crawl,
new columns and widened types become a new schema version, and an incompatible change (a
removed column, a type that does not widen) is reported and left unmerged.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from catalog.errors import CatalogConflictError, CatalogError, TableNotFoundError
from catalog.evolution import common_type, merge_schema
from catalog.model import Column, Partition, Table
from catalog.partitions import infer_column_type, parse_segment, unescape_path_name
from catalog.readers import FileSchema, UnreadableFileError, connect, file_format, read_file_schema
from catalog.store import Catalog
from catalog.validation import make_identifier

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]
SAVE_ATTEMPTS = 3


# --- the report ---------------------------------------------------------------------------------


@dataclass
class FileProblem:
    """A file the crawl did not catalog, and why."""

    path: str
    reason: str


@dataclass
class TableChange:
    """A change to one table found by a crawl; `version` is the new schema version if one was recorded."""

    table: str
    change: str
    version: int | None = None


@dataclass
class CrawlReport:
    """The tables, partitions, changes and problems that a crawl found. Table names are "database.table"."""

    path: str
    database: str
    files_read: int = 0
    new_tables: list[str] = field(default_factory=list)
    new_partitions: dict[str, list[str]] = field(default_factory=dict)
    schema_changes: list[TableChange] = field(default_factory=list)
    incompatible_changes: list[TableChange] = field(default_factory=list)
    unchanged_tables: list[str] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    unreadable_files: list[FileProblem] = field(default_factory=list)
    skipped_files: list[FileProblem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        """Describe the crawl in short lines for a terminal or a page."""
        partition_count = sum(len(specs) for specs in self.new_partitions.values())
        lines = [
            f"Crawled {self.path} into database {self.database}: {self.files_read} file(s) read, "
            f"{len(self.new_tables)} new table(s), {partition_count} new partition(s), "
            f"{len(self.schema_changes)} schema change(s), {len(self.incompatible_changes)} incompatible "
            f"change(s), {len(self.unreadable_files)} unreadable file(s)."
        ]
        lines += [f"  new table {name}" for name in self.new_tables]
        for name, specs in self.new_partitions.items():
            lines.append(f"  {len(specs)} new partition(s) in {name}: {', '.join(specs[:5])}")
            if len(specs) > 5:
                lines[-1] += f" and {len(specs) - 5} more"
        lines += [f"  schema version {c.version} of {c.table}: {c.change}" for c in self.schema_changes]
        lines += [
            f"  incompatible change in {c.table}, not merged: {c.change}" for c in self.incompatible_changes
        ]
        lines += [
            f"  table {name} has no files under the crawled path any more" for name in self.missing_tables
        ]
        lines += [f"  cannot read {problem.path}: {problem.reason}" for problem in self.unreadable_files]
        return lines


# --- planning: which files form which table -------------------------------------------------------


@dataclass
class _Candidate:
    """A set of files that may form one table."""

    name_parts: list[str]
    location: Path
    files: list[Path]
    folder: bool


@dataclass
class _CrawledTable:
    name: str
    location: Path
    format: str
    options: dict[str, Any]
    columns: list[Column]
    partition_keys: list[Column]
    partitions: list[Partition]
    row_count: int | None


def _hidden(name: str) -> bool:
    """Spark skips files and folders whose names start with `.` or `_`, such as _SUCCESS."""
    return name.startswith((".", "_"))


def _plan(root: Path, report: CrawlReport) -> list[_Candidate]:
    if root.is_file():
        return [_Candidate([root.name.split(".")[0]], root, [root], folder=False)]
    candidates: list[_Candidate] = []
    for entry in _entries(root):
        if entry.is_dir():
            candidates += _plan_folder(entry, [entry.name], report)
        elif file_format(entry):
            candidates.append(_Candidate([entry.name.split(".")[0]], entry, [entry], folder=False))
        else:
            report.skipped_files.append(FileProblem(str(entry), _not_data_reason(entry)))
    return candidates


def _plan_folder(folder: Path, name_parts: list[str], report: CrawlReport) -> list[_Candidate]:
    data_files, other_files = _walk(folder)
    if all(_is_partition_path(path.parent.relative_to(folder)) for path in data_files + other_files):
        report.skipped_files += [FileProblem(str(path), _not_data_reason(path)) for path in other_files]
        return [_Candidate(name_parts, folder, data_files, folder=True)] if data_files else []
    candidates: list[_Candidate] = []
    for entry in _entries(folder):
        if entry.is_dir():
            candidates += _plan_folder(entry, [*name_parts, entry.name], report)
        elif file_format(entry):
            candidates.append(
                _Candidate([*name_parts, entry.name.split(".")[0]], entry, [entry], folder=False)
            )
        else:
            report.skipped_files.append(FileProblem(str(entry), _not_data_reason(entry)))
    return candidates


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(entry for entry in folder.iterdir() if not _hidden(entry.name))
    except OSError as exc:
        raise CatalogError(f"cannot list folder {folder}: {exc.strerror}") from exc


def _walk(folder: Path) -> tuple[list[Path], list[Path]]:
    """List data files and other files under a folder, skipping hidden files and folders."""
    data_files: list[Path] = []
    other_files: list[Path] = []
    for current, subfolders, names in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if not _hidden(name))
        for name in sorted(names):
            if _hidden(name):
                continue
            path = Path(current) / name
            (data_files if file_format(path) else other_files).append(path)
    return data_files, other_files


def _is_partition_path(relative: Path) -> bool:
    return all(parse_segment(part) is not None for part in relative.parts)


def _not_data_reason(path: Path) -> str:
    extension = path.suffix or "no extension"
    return f"not a data file ({extension}); the crawler reads .csv, .tsv, .json, .jsonl, .ndjson and .parquet"


def _table_names(candidates: list[_Candidate]) -> list[str]:
    """Name each candidate after its folder or file stem; clashing names use the whole relative path."""
    short = [make_identifier(candidate.name_parts[-1]) for candidate in candidates]
    counts = Counter(short)
    names = [
        name if counts[name] == 1 else make_identifier("_".join(candidate.name_parts))
        for name, candidate in zip(short, candidates, strict=True)
    ]
    counts = Counter(names)
    seen: Counter[str] = Counter()
    unique = []
    for name in names:
        seen[name] += 1
        unique.append(name if counts[name] == 1 else f"{name}_{seen[name]}")
    return unique


# --- reading: schemas of files and of tables ------------------------------------------------------


def _read_files(
    candidates: list[_Candidate], report: CrawlReport, on_progress: ProgressCallback | None
) -> dict[Path, FileSchema]:
    total = sum(len(candidate.files) for candidate in candidates)
    schemas: dict[Path, FileSchema] = {}
    done = 0
    connection = connect()
    try:
        for candidate in candidates:
            for path in candidate.files:
                fmt = file_format(path)
                try:
                    schemas[path] = read_file_schema(connection, path, fmt)
                    report.files_read += 1
                except UnreadableFileError as exc:
                    report.unreadable_files.append(FileProblem(str(path), str(exc)))
                except OSError as exc:
                    report.unreadable_files.append(FileProblem(str(path), exc.strerror or str(exc)))
                done += 1
                if on_progress is not None:
                    on_progress(done, total, str(path))
    finally:
        connection.close()
    return schemas


def _build_tables(
    name: str, candidate: _Candidate, schemas: dict[Path, FileSchema], report: CrawlReport
) -> list[_CrawledTable]:
    files = [schemas[path] for path in candidate.files if path in schemas]
    if not files:
        return []
    if not candidate.folder:
        return [_table_from_files(name, candidate.location, files, [], report)]
    for schema in files:
        schema.partition_values = _partition_values(schema.path.parent.relative_to(candidate.location))
    if any(schema.partition_values for schema in files):
        return [_partitioned_table(name, candidate.location, files, report)]
    if _same_dataset(files):
        return [_table_from_files(name, candidate.location, files, [], report)]
    # Files of different formats, or without a column in common, are separate tables.
    return [
        _table_from_files(
            f"{name}_{make_identifier(schema.path.name.split('.')[0])}", schema.path, [schema], [], report
        )
        for schema in files
    ]


def _partition_values(relative: Path) -> dict[str, str]:
    values = {}
    for part in relative.parts:
        key, raw = parse_segment(part)
        values[key] = raw
    return values


def _partitioned_table(
    name: str, location: Path, files: list[FileSchema], report: CrawlReport
) -> _CrawledTable:
    """Keep the files of the most common format and partition layout; report the others as unreadable."""
    layouts = Counter(_layout(schema) for schema in files)
    chosen = layouts.most_common(1)[0][0]
    kept = []
    for schema in files:
        if _layout(schema) == chosen:
            kept.append(schema)
        else:
            reason = (
                f"its format and partition folders ({_describe_layout(_layout(schema))}) differ from the "
                f"other files of table {name} ({_describe_layout(chosen)}), so Spark cannot read both"
            )
            report.unreadable_files.append(FileProblem(str(schema.path), reason))
    keys = list(kept[0].partition_values)
    partition_keys = [Column(key, infer_column_type([s.partition_values[key] for s in kept])) for key in keys]
    return _table_from_files(name, location, kept, partition_keys, report)


def _layout(schema: FileSchema) -> tuple[str, tuple[str, ...]]:
    return schema.format, tuple(key.lower() for key in schema.partition_values)


def _describe_layout(layout: tuple[str, tuple[str, ...]]) -> str:
    file_format_name, keys = layout
    return (
        f"{file_format_name}, partitioned by {', '.join(keys)}"
        if keys
        else f"{file_format_name}, not partitioned"
    )


def _table_from_files(
    name: str, location: Path, files: list[FileSchema], partition_keys: list[Column], report: CrawlReport
) -> _CrawledTable:
    kept, columns = _merge_or_report(name, files, report)
    partition_names = {key.name.lower() for key in partition_keys}
    # NOTE: a data column named like a partition key is dropped here. Spark keeps it at its
    # data position with the partition value, so such a table's column order differs from Spark's.
    columns = [column for column in columns if column.name.lower() not in partition_names]
    kept_paths = {schema.path for schema in kept}
    skipped = [schema for schema in files if schema.path not in kept_paths]
    return _CrawledTable(
        name=name,
        location=location.resolve(),
        format=kept[0].format,
        options=kept[0].options,
        columns=columns,
        partition_keys=partition_keys,
        partitions=_partitions(location, kept, skipped) if partition_keys else [],
        # Spark reads the files left out too, so a count without them would be too low.
        row_count=None if skipped else _sum_counts([schema.row_count for schema in kept]),
    )


def _merge_or_report(
    name: str, files: list[FileSchema], report: CrawlReport
) -> tuple[list[FileSchema], list[Column]]:
    """Merge files one by one; a file that does not fit the ones before it is reported as unreadable."""
    kept = [files[0]]
    columns = list(files[0].columns)
    for schema in files[1:]:
        merged = _merge_two(kept[0], columns, schema)
        if isinstance(merged, str):
            report.unreadable_files.append(FileProblem(str(schema.path), f"{merged} (table {name})"))
            continue
        kept.append(schema)
        columns = merged
    return kept, columns


def _same_dataset(files: list[FileSchema]) -> bool:
    """Return whether a flat folder's files form one table: one format, each sharing a column with the first.

    Files of such a folder that do not fit the first ones are reported as unreadable later.
    """
    first = files[0]
    names = {column.name.lower() for column in first.columns}
    for schema in files[1:]:
        if schema.format != first.format or not names & {column.name.lower() for column in schema.columns}:
            return False
    return True


def _merge_two(first: FileSchema, columns: list[Column], other: FileSchema) -> list[Column] | str:
    """Return the merged columns, or the reason `other` cannot be read together with `first`."""
    if other.format != first.format:
        return f"it is {other.format} where the other files are {first.format}"
    if other.options != first.options:
        return f"its reader options {other.options} differ from the other files' {first.options}"
    if first.format == "csv" and [c.name for c in other.columns] != [c.name for c in columns]:
        # Spark reads CSV columns by position, so every file needs the same header.
        return f"its columns {[c.name for c in other.columns]} differ from {[c.name for c in columns]}"
    by_name = {column.name.lower(): column for column in other.columns}
    merged = []
    for column in columns:
        found = by_name.pop(column.name.lower(), None)
        if found is None:
            merged.append(column)
            continue
        combined = common_type(column.type, found.type, allow_string=first.format != "parquet")
        if combined is None:
            return f"its column {found.name} is {found.type} where the other files have {column.type}"
        merged.append(Column(column.name, combined))
    return merged + list(by_name.values())


def _partitions(location: Path, files: list[FileSchema], skipped: list[FileSchema]) -> list[Partition]:
    by_folder: dict[Path, list[FileSchema]] = {}
    for schema in files:
        by_folder.setdefault(schema.path.parent, []).append(schema)
    incomplete = {schema.path.parent for schema in skipped}
    partitions = []
    for folder, schemas in sorted(by_folder.items()):
        values = {key: unescape_path_name(raw) for key, raw in schemas[0].partition_values.items()}
        counts = [schema.row_count for schema in schemas]
        row_count = None if folder in incomplete else _sum_counts(counts)
        partitions.append(Partition(values, str(folder.resolve()), row_count))
    return partitions


def _sum_counts(counts: list[int | None]) -> int | None:
    if any(count is None for count in counts):
        return None
    return sum(counts)


# --- recording: new tables, new versions, flagged changes ---------------------------------------


def _record(catalog: Catalog, database: str, crawled: _CrawledTable, report: CrawlReport) -> None:
    """Record one crawled table, reloading and merging again if another writer changed it meanwhile."""
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        try:
            stored = _record_once(catalog, database, crawled, report)
            break
        except CatalogConflictError:
            if attempt == SAVE_ATTEMPTS:
                raise
            logger.info("table %s.%s changed during the crawl; merging again", database, crawled.name)
    if stored is not None and stored.partition_keys and crawled.partitions:
        _record_partitions(catalog, stored, crawled, report)


def _record_once(
    catalog: Catalog, database: str, crawled: _CrawledTable, report: CrawlReport
) -> Table | None:
    try:
        existing = catalog.get_table(database, crawled.name)
    except TableNotFoundError:
        table = Table(
            database=database,
            name=crawled.name,
            location=str(crawled.location),
            format=crawled.format,
            options=crawled.options,
            columns=crawled.columns,
            partition_keys=crawled.partition_keys,
            row_count=crawled.row_count,
        )
        stored = catalog.save_table(table, expected_revision=0)
        report.new_tables.append(stored.full_name)
        return stored
    return _update(catalog, existing, crawled, report)


def _update(catalog: Catalog, existing: Table, crawled: _CrawledTable, report: CrawlReport) -> Table | None:
    problem = _layout_problem(existing, crawled)
    if problem:
        report.incompatible_changes.append(TableChange(existing.full_name, problem))
        return None
    columns = merge_schema(existing.columns, crawled.columns)
    keys = merge_schema(existing.partition_keys, crawled.partition_keys, kind="partition key")
    incompatible = columns.incompatible + keys.incompatible
    if incompatible:
        report.incompatible_changes.append(TableChange(existing.full_name, "; ".join(incompatible)))
        return existing
    if columns.changed or keys.changed:
        changed = replace(
            existing, columns=columns.columns, partition_keys=keys.columns, row_count=crawled.row_count
        )
        stored = catalog.save_table(changed, expected_revision=existing.revision)
        summary = "; ".join(
            [f"added column {c.name} ({c.type})" for c in columns.added]
            + [f"widened {w}" for w in columns.widened + keys.widened]
        )
        report.schema_changes.append(TableChange(stored.full_name, summary, stored.version))
        return stored
    report.unchanged_tables.append(existing.full_name)
    if existing.row_count != crawled.row_count:
        return catalog.save_table(
            replace(existing, row_count=crawled.row_count), expected_revision=existing.revision
        )
    return existing


def _layout_problem(existing: Table, crawled: _CrawledTable) -> str:
    if Path(existing.location).resolve() != crawled.location:
        return (
            f"the table already exists with location {existing.location}, so the files at "
            f"{crawled.location} were not recorded; crawl them into another database or delete the table"
        )
    if existing.format != crawled.format:
        return f"format changed from {existing.format} to {crawled.format}"
    stored_keys = [key.name.lower() for key in existing.partition_keys]
    crawled_keys = [key.name.lower() for key in crawled.partition_keys]
    if stored_keys != crawled_keys:
        return f"partition keys changed from {stored_keys} to {crawled_keys}"
    return ""


def _record_partitions(catalog: Catalog, stored: Table, crawled: _CrawledTable, report: CrawlReport) -> None:
    added = catalog.add_partitions(stored.database, stored.name, crawled.partitions)
    if added:
        specs = ["/".join(f"{key}={value}" for key, value in p.values.items()) for p in added]
        report.new_partitions[stored.full_name] = specs


def _missing_tables(catalog: Catalog, database: str, root: Path, crawled_names: set[str]) -> list[str]:
    missing = []
    for table in catalog.list_tables(database):
        location = Path(table.location)
        inside = location == root or root in location.parents
        if inside and table.name not in crawled_names and not location.exists():
            missing.append(table.full_name)
    return missing


# --- the crawl -----------------------------------------------------------------------------------


def crawl(
    catalog: Catalog, path: str | Path, database: str, on_progress: ProgressCallback | None = None
) -> CrawlReport:
    """Catalog the tables under `path` in `database` and return what was found and changed.

    `on_progress(done, total, message)` is called after each file read and once at the end.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise CatalogError(
            f"crawl path {root} not found; give a folder or a file of CSV, JSON or Parquet data"
        )
    root = root.resolve()
    database = catalog.ensure_database(database)
    report = CrawlReport(path=str(root), database=database)
    logger.info("crawling %s into database %s", root, database)
    candidates = _plan(root, report)
    schemas = _read_files(candidates, report, on_progress)
    names = _table_names(candidates)
    crawled_names = set()
    for name, candidate in zip(names, candidates, strict=True):
        for table in _build_tables(name, candidate, schemas, report):
            crawled_names.add(table.name)
            _record(catalog, database, table, report)
    report.missing_tables = _missing_tables(catalog, database, root, crawled_names)
    total = sum(len(candidate.files) for candidate in candidates)
    if on_progress is not None:
        on_progress(total, total, f"recorded {len(crawled_names)} table(s)")
    logger.info(
        "crawled %s: %d new table(s), %d unreadable file(s)",
        root,
        len(report.new_tables),
        len(report.unreadable_files),
    )
    return report
