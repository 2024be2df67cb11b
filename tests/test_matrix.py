"""tests/matrix.py: a server named in TEST_REQUIRE that does not answer fails the run."""

import pytest

from tests import matrix

# Nothing listens on port 1: these are refused at once, and no pytest run starts.
POSTGRES = matrix.Run("PostgreSQL", server="postgres://postgres@127.0.0.1:1/x", requires="postgres")
MYSQL = matrix.Run("MariaDB/MySQL", server="mysql://root@127.0.0.1:1/x", requires="mysql")
FIRST = matrix.Run("first row", server="sqlite://127.0.0.1:1/")


@pytest.fixture
def unreachable_servers(monkeypatch):
    monkeypatch.setattr(matrix, "runs", lambda: [FIRST, POSTGRES, MYSQL])
    monkeypatch.delenv("TEST_MATRIX", raising=False)
    monkeypatch.delenv("TEST_REQUIRE", raising=False)
    return monkeypatch


def test_required_reads_a_comma_list(monkeypatch):
    monkeypatch.setenv("TEST_REQUIRE", " postgres,Redis,, browser ")
    assert matrix.required() == {"postgres", "redis", "browser"}
    monkeypatch.delenv("TEST_REQUIRE")
    assert matrix.required() == set()


def test_unreachable_servers_are_skipped_when_none_is_required(unreachable_servers, capsys):
    assert matrix.main([]) == 0
    out = capsys.readouterr().out
    assert "SKIPPED  PostgreSQL" in out
    assert "SKIPPED  MariaDB/MySQL" in out


def test_an_unreachable_required_server_fails_the_run(unreachable_servers, capsys):
    unreachable_servers.setenv("TEST_REQUIRE", "mysql")
    assert matrix.main([]) == 1
    out = capsys.readouterr().out
    assert "FAILED   MariaDB/MySQL: 127.0.0.1:1 not reachable" in out
    assert "SKIPPED  PostgreSQL" in out


def test_a_required_row_left_out_by_test_matrix_fails_the_run(unreachable_servers, capsys):
    unreachable_servers.setenv("TEST_REQUIRE", "postgres")
    unreachable_servers.setenv("TEST_MATRIX", "sqlite")
    assert matrix.main([]) == 1
    assert "FAILED   PostgreSQL: left out by TEST_MATRIX=sqlite" in capsys.readouterr().out


def test_an_unknown_name_stops_the_run(unreachable_servers, capsys):
    unreachable_servers.setenv("TEST_REQUIRE", "postgresql")
    assert matrix.main([]) == 2
    assert "unknown postgresql" in capsys.readouterr().err


@pytest.fixture
def rows_that_collect_nothing(monkeypatch, tmp_path):
    """Every row answers and its pytest exits 5 (no tests collected)."""
    sqlite = matrix.Run("SQLite + embedded broker", may_collect_nothing=True)
    postgres = matrix.Run("PostgreSQL", server="postgres://postgres@127.0.0.1:5432/x")
    monkeypatch.setattr(matrix, "runs", lambda: [sqlite, postgres])
    monkeypatch.setattr(matrix.Run, "reachable", lambda run: None)
    monkeypatch.setattr(matrix.subprocess, "call", lambda *args, **kwargs: 5)
    monkeypatch.delenv("TEST_MATRIX", raising=False)
    monkeypatch.delenv("TEST_REQUIRE", raising=False)
    monkeypatch.chdir(tmp_path)  # the run's SQLite path is made under var/, never used here
    return monkeypatch


def test_only_the_sqlite_row_may_collect_no_test(rows_that_collect_nothing, capsys):
    assert matrix.main([]) == 1
    out = capsys.readouterr().out
    assert "PASSED   SQLite + embedded broker: 0 passed" in out
    assert "FAILED   PostgreSQL: 0 passed, 0 failed, 0 skipped (pytest exit 5: no tests" in out


def test_the_sqlite_row_alone_collecting_no_test_passes(rows_that_collect_nothing, capsys):
    rows_that_collect_nothing.setenv("TEST_MATRIX", "sqlite")
    assert matrix.main([]) == 0
    assert "PASSED   SQLite + embedded broker" in capsys.readouterr().out


def test_the_real_rows_let_only_sqlite_collect_nothing():
    assert [run.may_collect_nothing for run in matrix.runs()] == [True, False, False, False]
