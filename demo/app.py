"""Spaces-style entry point: ``python demo/app.py [--runs work/runs] [--port N]`` (same as ``polyvox demo``)."""

import argparse
import sys

from polyvox.demo import add_arguments, run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
