"""How good a classifier is on the validation split: accuracy, macro F1, per class, the baselines.

scikit-learn's metrics on label ids, no TensorFlow: the training job computes them, and so can
anyone holding predictions. scikit-learn is imported inside the functions: its import takes about
a second (it pulls in SciPy and pandas), and pages that import this module must stay light.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The TF-IDF baseline's bounds. Unigrams: on both shipped samples they score as well as or better
# than unigrams plus bigrams (reviews 0.912 against 0.888 validation accuracy), in a tenth of the
# time. The 10,000 most frequent words (twice the model's default vocabulary) bound the logistic
# regression: at 50 classes and 20,000 rows its fit peaks at about 130 MB (270 MB with 20,000 words).
TFIDF_MAX_FEATURES = 10_000
TFIDF_MAX_ITERATIONS = 1_000


def evaluate(
    true_ids: np.ndarray, predicted_ids: np.ndarray, class_names: Sequence[str], train_label_ids: np.ndarray
) -> dict:
    """Accuracy, macro F1, per-class scores, confusion matrix and the majority-class baseline.

    The baseline always predicts the most frequent class of the training split (the lowest id on a
    tie): a model that does not beat it has learnt nothing from the texts. A class never predicted
    (or never present) scores 0, not NaN.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    num_classes = len(class_names)
    true_ids = np.asarray(true_ids, dtype=np.int64)
    predicted_ids = np.asarray(predicted_ids, dtype=np.int64)
    total = len(true_ids)
    labels = np.arange(num_classes)
    if total:
        # Rows are the true class, columns the predicted class; every class has its row and column.
        matrix = confusion_matrix(true_ids, predicted_ids, labels=labels)
        precision, recall, f1, support = precision_recall_fscore_support(
            true_ids, predicted_ids, labels=labels, average=None, zero_division=0
        )
        accuracy = float(accuracy_score(true_ids, predicted_ids))
    else:  # scikit-learn refuses empty input; nothing to score is all zeros
        matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
        precision = recall = f1 = np.zeros(num_classes)
        support = np.zeros(num_classes, dtype=np.int64)
        accuracy = 0.0
    majority = int(np.bincount(np.asarray(train_label_ids, dtype=np.int64), minlength=num_classes).argmax())
    return {
        "val_accuracy": accuracy,
        # The mean over every class, those absent from the validation split included.
        "macro_f1": float(f1.mean()) if num_classes else 0.0,
        "majority_baseline": float(support[majority] / total) if total else 0.0,
        "majority_class": class_names[majority],
        "per_class": [
            {
                "class": name,
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        ],
        "confusion_matrix": np.asarray(matrix, dtype=np.int64).tolist(),
        "val_samples": int(total),
    }


def tfidf_baseline(
    train_texts: Sequence[str],
    train_label_ids: np.ndarray,
    val_texts: Sequence[str],
    val_label_ids: np.ndarray,
    class_names: Sequence[str],
) -> dict:
    """A bag-of-words model's validation accuracy and macro F1, scored by ``evaluate``, and its
    prediction for each validation text (``tfidf_predictions``: so a page can compare it with the
    model's text by text).

    TF-IDF on lowercased words, then a logistic regression: the classic text baseline, trained on
    the same training split and measured on the same validation split as the model, so the
    figures compare. Deterministic (the lbfgs solver draws nothing at random). When no training
    text holds a word (TF-IDF's words are two letters or more), there is nothing to learn from:
    both figures are None.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(lowercase=True, ngram_range=(1, 1), max_features=TFIDF_MAX_FEATURES)
    tokenize = vectorizer.build_tokenizer()
    if not any(tokenize(text) for text in train_texts):
        # fit_transform would raise "empty vocabulary" here.
        return {"tfidf_baseline": None, "tfidf_macro_f1": None, "tfidf_predictions": None}
    train_features = vectorizer.fit_transform(train_texts)
    classifier = LogisticRegression(max_iter=TFIDF_MAX_ITERATIONS)
    classifier.fit(train_features, np.asarray(train_label_ids, dtype=np.int64))
    predicted = classifier.predict(vectorizer.transform(val_texts))
    scores = evaluate(val_label_ids, predicted, class_names, train_label_ids)
    return {
        "tfidf_baseline": scores["val_accuracy"],
        "tfidf_macro_f1": scores["macro_f1"],
        "tfidf_predictions": [int(label) for label in predicted],
    }
