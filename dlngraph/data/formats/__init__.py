"""Readers for the file formats users bring: BBH JSON, BIG-bench task.json, JSON Lines, CSV.

Each reader returns the file's examples in file order, or raises one `DataError` that lists
every bad row with its file and line.
"""

from dlngraph.data.formats.bbh import read_bbh
from dlngraph.data.formats.bigbench import BigBenchTask, ChoiceStyle, read_bigbench
from dlngraph.data.formats.csv_table import read_csv
from dlngraph.data.formats.jsonl import read_jsonl
from dlngraph.data.formats.records import FieldMap

__all__ = ["BigBenchTask", "ChoiceStyle", "FieldMap", "read_bbh", "read_bigbench", "read_csv", "read_jsonl"]
