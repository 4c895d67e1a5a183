"""BASELINE, not viewsite: the course's training script, for bench/course_app.py.

Read the CSV, fill a blank 转发数 with 点赞数, fit a LinearRegression, `joblib.dump` it.

    python bench/course_train.py data/wechat_articles_sample.csv /tmp/course-model.joblib
"""

import sys

import joblib
import pandas as pd
from sklearn.linear_model import LinearRegression


def train(csv_path: str, model_path: str) -> None:
    df = pd.read_csv(csv_path)
    df["转发数"] = df["转发数"].fillna(df["点赞数"])
    # Fitted on plain arrays: the app predicts on plain lists, so scikit-learn has no feature
    # names to warn about on every request (a warning would only slow the baseline down).
    model = LinearRegression().fit(df[["点赞数", "转发数"]].to_numpy(), df["浏览量"].to_numpy())
    joblib.dump(model, model_path)
    print(f"course model: coef {model.coef_.round(4).tolist()}, intercept {model.intercept_:.4f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    train(sys.argv[1], sys.argv[2])
