"""``python -m ranvier demo``: the lecture's weight-decay experiment on built-in data."""
import argparse
import sys
import time


def demo(epochs=300, seed=0):
    """Train a 2-50-2 MLP on the Gaussian mixture with three weight decays; print accuracies."""
    import ranvier as rv

    x_train, y_train = rv.datasets.make_gaussian_mixture(200, seed=seed)
    x_test, y_test = rv.datasets.make_gaussian_mixture(2000, seed=seed + 1)
    print(f"ranvier {rv.__version__} demo: two-class Gaussian mixture, 200 training samples, "
          f"2000 test samples")
    print("MLP 2-50-2 (tanh), SGD lr 0.1 momentum 0.9, batch 32, "
          f"{epochs} epochs, L2 weight decay on kernels")
    print(f"{'weight decay':>12}  {'train acc':>9}  {'test acc':>8}  {'time':>6}")
    results = {}
    for wd in (1e-4, 1e-3, 1e-2):
        rv.config.set_random_seed(seed)
        model = rv.Sequential([rv.layers.Input((2,)),
                               rv.layers.Dense(50, activation="tanh"),
                               rv.layers.Dense(2, activation="softmax")])
        model.compile(optimizer=rv.optimizers.SGD(0.1, momentum=0.9, weight_decay=wd),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        t0 = time.perf_counter()
        model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
        elapsed = time.perf_counter() - t0
        train_acc = model.evaluate(x_train, y_train, verbose=0)[1]
        test_acc = model.evaluate(x_test, y_test, verbose=0)[1]
        results[wd] = (train_acc, test_acc)
        print(f"{wd:>12g}  {train_acc:>9.3f}  {test_acc:>8.3f}  {elapsed:>5.1f}s")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ranvier", description="ranvier command line")
    sub = parser.add_subparsers(dest="command")
    p_demo = sub.add_parser("demo", help="train the lecture's toy problem (built-in data, no download)")
    p_demo.add_argument("--epochs", type=int, default=300)
    p_demo.add_argument("--seed", type=int, default=0)
    sub.add_parser("info", help="print version, threads and BLAS information")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(epochs=args.epochs, seed=args.seed)
    elif args.command == "info":
        import ranvier as rv
        from ranvier.core import _openmp

        print(f"ranvier {rv.__version__}; OpenMP: {_openmp.openmp_enabled()}; "
              f"threads: {rv.get_num_threads()}")
    else:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
