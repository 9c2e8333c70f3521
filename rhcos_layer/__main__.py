"""``python -m rhcos_layer``: the same as the ``rhcos-layer`` command."""

from rhcos_layer.cli import main

if __name__ == "__main__":
    main()
