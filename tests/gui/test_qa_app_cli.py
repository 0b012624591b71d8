"""QA: the app's own options (--settings, --quit-after, --screenshot) may come first on the command line, as
docs/gui.md shows them; they used to be parsed as a sub-command ("invalid choice: 'x.ini'")."""

import pytest

from strfviewer import cli


@pytest.mark.parametrize("argv", [["--settings", "s.ini"], ["--settings=s.ini", "demo"],
                                  ["--quit-after", "100", "demo"], ["--screenshot", "a.png"]])
def test_app_options_first_open_the_app(monkeypatch, argv):
    seen = []
    monkeypatch.setattr(cli, "gui_main", lambda a=None: seen.append(list(a)) or 0)
    assert cli.main(list(argv)) == 0
    assert seen == [argv]


def test_sub_commands_and_help_still_parse(monkeypatch, capsys):
    monkeypatch.setattr(cli, "gui_main", lambda a=None: pytest.fail("the app must not open"))
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and "strfviewer" in capsys.readouterr().out
