"""The ``headwater`` command. Thin: every command calls one :class:`headwater.Project` method.

Exit codes, in one place (:func:`main`): 0 ok; 1 the job failed or differences were
found; 2 usage, configuration or another expected error; 130 interrupted. :func:`main`
returns the code (tests call it in-process); the console script and ``python -m
headwater`` exit with it.
"""

from __future__ import annotations

from headwater.errors import HeadwaterError, interrupted, operating_error


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    from typer.exceptions import Abort, Exit, TyperException

    from headwater.cli import output
    from headwater.cli.app import app, state

    try:
        rv = app(args=argv, standalone_mode=False, prog_name="headwater")
    except (Abort, KeyboardInterrupt):
        output.error_line("interrupted")
        return _exit(130)
    except Exit as exc:
        return _exit(exc.exit_code)
    except TyperException as exc:  # usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            output.error_line(str(exc))
        return _exit(2)
    except HeadwaterError as exc:
        output.error(exc, debug=state.debug)
        return _exit(exc.exit_code)
    except Exception as exc:  # a bug: say so plainly, keep the traceback for --debug
        if interrupted(exc):  # Ctrl-C as the engine reports it
            output.error_line("interrupted")
            return _exit(130)
        machine = operating_error(exc)
        if machine is not None:  # disk full, permission, memory: not a bug
            output.error(machine, debug=state.debug)
            return _exit(machine.exit_code)
        if state.debug:
            raise
        output.error_line(f"unexpected error: {type(exc).__name__}: {exc}")
        output.warn("this is a bug in headwater; run again with --debug and report the traceback")
        return _exit(1)
    if rv == 130:
        output.error_line("interrupted")
    return _exit(rv if isinstance(rv, int) else 0)


def _exit(code: int | None) -> int:
    return int(code or 0)


__all__ = ["main"]
