"""``python -m fmref.train.parallel`` (under torchrun): :func:`fmref.train.parallel.run.main`."""

from fmref.train.parallel.run import main

if __name__ == "__main__":  # pragma: no cover - run by torchrun
    main()
