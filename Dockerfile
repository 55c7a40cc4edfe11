# The BERT size explorer as a container:
#   docker build -t bertviz . && docker run -p 8501:8501 bertviz
# then open http://localhost:8501
FROM python:3.12-slim

# TF_USE_LEGACY_KERAS: keras-bert needs Keras 2 (tf-keras), which TensorFlow picks only when this
# is set before its first import. bertviz_core sets it too; here it also covers any other entry.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=2

# An unprivileged user with a home folder (Streamlit and TensorFlow write small caches there).
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin bertviz

WORKDIR /app

# Requirements first, so that editing the app does not reinstall TensorFlow on every build.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=bertviz:bertviz . .

# Numeric, so that platforms checking runAsNonRoot can verify it without reading /etc/passwd.
USER 10001

EXPOSE 8501

# The slim image has no curl; Python's standard library asks Streamlit's health endpoint instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"]

CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
