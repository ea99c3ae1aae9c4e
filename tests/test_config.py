from __future__ import annotations

import pytest

from capplan.core.config import load_config
from capplan.core.contracts import quantile_col
from capplan.core.errors import ConfigError


def test_misspelt_key_fails_with_key_and_file(tmp_path):
    p = tmp_path / "capplan.toml"
    p.write_text('[warehouse]\npath = "w.duckdb"\n\n[forecast]\nhorizn = 48\n')
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert "forecast.horizn" in str(err.value) and str(p) in str(err.value)


def test_bad_value_names_the_field(tmp_path):
    p = tmp_path / "capplan.toml"
    p.write_text('[forecast]\nhorizon = "fortnight"\n')
    with pytest.raises(ConfigError, match="forecast.horizon"):
        load_config(p)


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    p = tmp_path / "sub" / "c.toml"
    p.write_text('[warehouse]\npath = "w.duckdb"\n[[sources]]\nname="a"\nkind="metrics"\npath="m/*.csv"\n')
    cfg = load_config(p)
    assert cfg.warehouse_path == tmp_path / "sub" / "w.duckdb"
    assert cfg.resolve(cfg.sources[0].path) == tmp_path / "sub" / "m" / "*.csv"


def test_duplicate_source_names_rejected(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(
        '[[sources]]\nname="a"\nkind="kpis"\npath="x"\n[[sources]]\nname="a"\nkind="kpis"\npath="y"\n'
    )
    with pytest.raises(ConfigError, match="repeated: a"):
        load_config(p)


def test_quantile_names():
    assert [quantile_col(q) for q in (0.1, 0.5, 0.9, 0.95, 0.99, 0.025)] == [
        "p10",
        "p50",
        "p90",
        "p95",
        "p99",
        "p2.5",
    ]
    with pytest.raises(ValueError):
        quantile_col(1.0)
