"""Entry point for the ledger CLI tests: the real ``verifier`` application, so
the tests exercise the sub-apps exactly as users reach them."""

from verifier.cli import main

if __name__ == "__main__":
    main()
