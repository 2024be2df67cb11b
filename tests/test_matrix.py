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
