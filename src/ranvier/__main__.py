"""``python -m ranvier demo``: the lecture's weight-decay experiment on built-in data."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ranvier", description="ranvier command line")
    sub = parser.add_subparsers(dest="command")
    p_demo = sub.add_parser("demo", help="train the lecture's toy problem (built-in data, no download)")
    p_demo.add_argument("--epochs", type=int, default=300)
    p_demo.add_argument("--seed", type=int, default=0)
    sub.add_parser("info", help="print the build, CPU features, micro-kernels, threads, OpenMP and BLAS")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ranvier.demo import weight_decay_experiment

        weight_decay_experiment(epochs=args.epochs, seed=args.seed)
    elif args.command == "info":
        from ranvier._info import report

        print("\n".join(report()))
    else:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
