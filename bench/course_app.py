"""BASELINE, not viewsite: a faithful reimplementation of the course's 20-line Flask app.

The course pickles a LinearRegression and serves it with Flask exactly like this: the model is
`joblib.load`ed at import, `/` shows a form and answers its POST by reading `request.form` as
floats and rendering `model.predict(...)`. There is no validation, no audit trail, no CSRF and
no error handling, as in the course; that is the point of comparison, so do not "fix" it.
The JSON route `/predict` is the one addition, so that the API can be compared like for like.
The page is bench/templates/index.html, found by Flask's default template folder.

`bench/run.py` trains the model with bench/course_train.py (the course's training script) and
serves this app under Flask's development server and under gunicorn.
"""

import os

import joblib
from flask import Flask, jsonify, render_template, request

app = Flask(__name__)
model = joblib.load(os.environ["BENCH_MODEL_PATH"])


@app.route("/", methods=["GET", "POST"])
def home():
    views = None
    if request.method == "POST":
        likes = float(request.form["likes"])
        shares = float(request.form["shares"])
        views = model.predict([[likes, shares]])[0]
    return render_template("index.html", views=views)


@app.route("/predict", methods=["POST"])
def predict():
    data = request.get_json()
    views = model.predict([[float(data["likes"]), float(data["shares"])]])[0]
    return jsonify({"views": float(views)})
