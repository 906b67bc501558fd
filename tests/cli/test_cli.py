"""The CLI router and backend resolution: the plumbing every subcommand relies on."""

import subprocess
import sys

import pytest

from stylelab import cli
from stylelab.core.errors import StylelabError
from stylelab.kernels import BACKENDS, resolve_backend


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["paint-my-house"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_every_command_module_has_the_router_interface():
    import importlib

    for module_name, _ in cli.COMMANDS.values():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments), module_name
        assert callable(module.run), module_name


def test_console_entry_point_runs_as_module():
    proc = subprocess.run(
        [sys.executable, "-m", "stylelab", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    assert "stylize" in proc.stdout


def test_resolve_backend_names():
    assert resolve_backend("auto") == "numba"
    for name in BACKENDS[:-1]:
        assert resolve_backend(name) == name
    with pytest.raises(StylelabError, match="unknown backend 'fortran'"):
        resolve_backend("fortran")
