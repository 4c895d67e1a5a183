"""Settings for viewsite, read from the environment in this one place.

Every variable is listed, with a comment, in ``deploy/viewsite.env.example``. Development gets safe
defaults (a loudly-named throwaway secret, SQLite under ``var/``); production gets no default for
anything secret and refuses to start without it.
"""

import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# ------------------------------------------------------------------------------------------------
# Core  https://docs.djangoproject.com/en/5.2/ref/settings/#core-settings
# ------------------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Only development may run on the well-known placeholder; anywhere else a missing key is an error.
_DEVELOPMENT_SECRET_KEY = "django-insecure-DEVELOPMENT-ONLY-never-use-this-key-in-production"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_DEVELOPMENT_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. Set it in the environment (see "
        "deploy/viewsite.env.example), or set DJANGO_DEBUG=true for local development."
    )

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# ------------------------------------------------------------------------------------------------
# HTTPS behind the TLS-terminating proxy  https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
# ------------------------------------------------------------------------------------------------
# On by default outside development. nginx terminates TLS and says so in X-Forwarded-Proto;
# gunicorn listens on loopback only, so no client can send that header to Django directly.
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The health check is for load balancers and monitors, which speak plain HTTP on the inside; so
# does a Prometheus that scrapes each app host's gunicorn directly (deploy/README.md, Metrics).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

# Content-Security-Policy (django-csp): everything from this origin only, no inline script, no
# framing. The form page has no script at all; the admin and the browsable API load theirs as
# files. https://django-csp.readthedocs.io/
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Where local state lives: the default SQLite database. Git ignores it.
VAR_DIR = Path(env.str("VIEWSITE_VAR_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    # django-axes, its admin section named in our words (predictor/axes_app.py).
    "predictor.axes_app.AxesConfig",
    "predictor",
]

# Whether Django serves /static/ itself (WhiteNoise). The deployment says no: nginx serves it
# (deploy/nginx), and no request then pays for WhiteNoise's look-up, nor a worker for its index
# of every static file.
SERVE_STATIC = env.bool("VIEWSITE_SERVE_STATIC", default=True)

MIDDLEWARE = [
    # First, so that every request is counted and timed (predictor/metrics.py).
    "predictor.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files, where no nginx serves them (development, tests, a host without nginx).
    *(["whitenoise.middleware.WhiteNoiseMiddleware"] if SERVE_STATIC else []),
    # django-csp's, on HTML responses only (predictor/middleware.py says why).
    "predictor.middleware.PagePolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "viewsite.urls"
# A form post refused for a missing or wrong CSRF token is still a prediction request: audit it.
CSRF_FAILURE_VIEW = "predictor.views.csrf_failure"
WSGI_APPLICATION = "viewsite.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ------------------------------------------------------------------------------------------------
# Database  https://docs.djangoproject.com/en/5.2/ref/databases/
# ------------------------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'viewsite.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several gunicorn workers write the audit trail at once. WAL lets readers and one writer run
    # together; IMMEDIATE takes the write lock when a transaction starts, so two writers queue on
    # the busy timeout instead of failing with "database is locked" when one upgrades its lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.float("VIEWSITE_SQLITE_BUSY_TIMEOUT", default=20.0),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # The test database is a real file beside the development one, never an in-memory stand-in,
    # so that a live gunicorn started by a test can open it too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-viewsite.sqlite3")}
    # SQLite creates the file but not its folder; var/ is git-ignored, so a fresh clone lacks it.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Page reads priced for SSDs or a database in memory (PostgreSQL's advice); at the default 4.0
    # the planner walked the date index where the version's own index answers (bench/README.md).
    # Set per connection, so no server rights are needed; a pooler must pass `options` through.
    random_page_cost = env.str("VIEWSITE_POSTGRES_RANDOM_PAGE_COST", default="1.1")
    if random_page_cost:
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "options", f"-c random_page_cost={float(random_page_cost)}"
        )
    # Parameters sent apart from the SQL (psycopg 3's server-side binding), so that psycopg
    # prepares a statement once it has run it five times and PostgreSQL stops parsing and planning
    # it anew: a little less CPU per request here and in the server (bench/README.md). Turn off
    # (false) behind a pooler in transaction mode, which cannot keep prepared statements.
    if env.bool("VIEWSITE_POSTGRES_SERVER_SIDE_BINDING", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
# Keep each worker's connection between requests (opening one, and for SQLite running its
# PRAGMAs, costs more than a prediction). A connection that fails a request is closed at its end
# and the next request opens a new one. Health checks (a `SELECT 1` before each request's first
# query) would also save the one request a silently broken connection fails, at a round trip on
# every request: a fifth of an API request's CPU on PostgreSQL (bench/README.md, issue 21).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DJANGO_CONN_HEALTH_CHECKS", default=False)

# ------------------------------------------------------------------------------------------------
# Auth, i18n
# ------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Simplified Chinese, as in the course, unless the browser or the client asks for English
# (LocaleMiddleware reads Accept-Language; the page's switch remembers a choice in a cookie).
LANGUAGE_CODE = env.str("DJANGO_LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One way to write a number and a date per language (viewsite/formats, predictor/display.py).
FORMAT_MODULE_PATH = ["viewsite.formats"]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------------------------------------
# Static files and storages  https://docs.djangoproject.com/en/5.2/ref/settings/#storages
# ------------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))

# Model versions imported by migration 0010 came from this folder, where `retrain` wrote them
# before artifacts moved into the database. Nothing else reads it; remove it once migrated.
ARTIFACT_ROOT = Path(env.str("VIEWSITE_ARTIFACT_ROOT", default=str(VAR_DIR / "artifacts")))

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# ------------------------------------------------------------------------------------------------
# Cache  https://docs.djangoproject.com/en/5.2/topics/cache/
# Rate limits need one cache that every worker (and every host) shares: Redis when REDIS_URL is
# set, as in production. Without it each process keeps its own, which is fine for development.
# ------------------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {
            # django-redis keeps one client per process and counts in one round trip (INCR).
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("VIEWSITE_CACHE_PREFIX", default="viewsite"),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # The pages' parts that are the same for every request in a language ({% cache %} in
    # templates/): each worker renders them once per language and keeps them in its memory, as a
    # shared cache would cost a round trip per part (bench/README.md).
    "template_fragments": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

# ------------------------------------------------------------------------------------------------
# Request size. The API refuses larger bodies with 413; nginx's client_max_body_size matches it.
# ------------------------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# ------------------------------------------------------------------------------------------------
# Django REST framework  https://www.django-rest-framework.org/api-guide/settings/
# ------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so an unauthenticated client is told 401 with how to authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PARSER_CLASSES": ["predictor.api.parsers.StrictJSONParser"],
    # The browsable API (HTML) can be switched off in production: VIEWSITE_BROWSABLE_API=false.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        *(
            ["predictor.api.renderers.BrowsableAPIRenderer"]
            if env.bool("VIEWSITE_BROWSABLE_API", default=True)
            else []
        ),
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "predictor.api.throttling.AnonThrottle",
        "predictor.api.throttling.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("VIEWSITE_THROTTLE_ANON_RATE", default="120/minute"),
        "user": env.str("VIEWSITE_THROTTLE_USER_RATE", default="600/minute"),
        # The form's previews while typing (a request per pause), per user or client address,
        # apart from the two above: /api/predictions/preview/ counts only against this one.
        "preview": env.str("VIEWSITE_THROTTLE_PREVIEW_RATE", default="120/minute"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "predictor.api.errors.exception_handler",
    # A batch's errors are keyed by the index of each bad item (DRF's format from 3.20 on).
    "LIST_SERIALIZER_ERRORS_AS_DICT": True,
    # The number of trusted proxies in front of gunicorn (nginx: 1). The client IP recorded in the
    # audit trail is read from X-Forwarded-For at that depth, so a client cannot forge it.
    "NUM_PROXIES": env.int("VIEWSITE_NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "viewsite API",
    "DESCRIPTION": (
        "Predict a WeChat article's views (浏览量) from its likes (点赞数) and shares (转发数)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Loads predictor.api.schema, which describes our views to drf-spectacular, before any view
    # is inspected; a worker that only answers requests never loads it, nor the generator.
    "PREPROCESSING_HOOKS": ["predictor.api.schema.preprocess"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "predictor.api.schema.postprocess",
    ],
    # Swagger UI's options, as JavaScript (drf-spectacular passes a string unchanged). Its
    # padlock on an operation that needs credentials is drawn open until the reader authorizes
    # and closed after, which reads as "open to all" on the staff operations; flipped, with its
    # label, it is closed until a token or a session is given. Public operations have none (their
    # schema requires nothing, predictor.api.schema). drf-spectacular's own plugins are kept
    # (read when Swagger UI starts, after its script has made them).
    # Deep links are off: with them each operation's path is a link inside the button that opens
    # it, a control within a control that a screen reader cannot reach apart (axe's
    # nested-interactive); an operation is still found by Swagger UI's filter.
    "SWAGGER_UI_SETTINGS": """{
  deepLinking: false,
  filter: true,
  get plugins() {
    const locked = (Button, system) => (props) =>
      system.React.createElement(Button, { ...props, isAuthorized: !props.isAuthorized });
    return [
      ...plugins,
      () => ({ wrapComponents: { authorizeBtn: locked, authorizeOperationBtn: locked } }),
    ];
  },
}""",
    # The docs pages load Swagger UI and Redoc from our static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# ------------------------------------------------------------------------------------------------
# viewsite
# ------------------------------------------------------------------------------------------------
# Serve the OpenAPI schema at /api/schema/ and its docs pages, /api/docs/ (Swagger UI) and
# /api/redoc/ (VIEWSITE_API_SCHEMA=false hides all three).
VIEWSITE_API_SCHEMA = env.bool("VIEWSITE_API_SCHEMA", default=True)
# The sample dataset `retrain` uses when no --data is given.
VIEWSITE_DEFAULT_DATA = Path(
    env.str("VIEWSITE_DEFAULT_DATA", default=str(BASE_DIR / "data" / "wechat_articles_sample.csv"))
)
# The font the model card's plots are drawn in, in every language: one with Chinese glyphs
# (Debian's fonts-noto-cjk, which `make run` and `make test` install). Without it the Chinese
# plots' words are drawn as empty boxes (`manage.py check` says so).
VIEWSITE_PLOT_FONT = Path(
    env.str("VIEWSITE_PLOT_FONT", default="/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
)
# How old, in seconds, a worker's knowledge of which model version is active may be: an
# activation is served by every worker of every host within this bound (registry.py). At most 1;
# 0 asks the database on every prediction.
VIEWSITE_ACTIVE_VERSION_MAX_AGE = env.float("VIEWSITE_ACTIVE_VERSION_MAX_AGE", default=1.0)
if not 0 <= VIEWSITE_ACTIVE_VERSION_MAX_AGE <= 1:
    raise ImproperlyConfigured(
        "VIEWSITE_ACTIVE_VERSION_MAX_AGE must be between 0 and 1 (seconds): an activation must "
        "reach every worker within a second."
    )
# Most predictions one API call may ask for. A batch is one model call and one bulk insert.
VIEWSITE_BATCH_MAX = env.int("VIEWSITE_BATCH_MAX", default=10_000)
# The quality gate of `retrain`: a candidate is not activated when its cross-validated R² is below
# the floor, or more than the allowed drop below the active model's R² on the same data.
VIEWSITE_MIN_R2 = env.float("VIEWSITE_MIN_R2", default=0.4)
VIEWSITE_MAX_R2_DROP = env.float("VIEWSITE_MAX_R2_DROP", default=0.05)
# Every prediction states an interval that covers the real views this share of the time.
VIEWSITE_INTERVAL_COVERAGE = env.float("VIEWSITE_INTERVAL_COVERAGE", default=0.9)
# A version is flagged when its live MAE exceeds this many times its cross-validated MAE, once it
# has at least this many outcomes.
VIEWSITE_LIVE_ERROR_RATIO = env.float("VIEWSITE_LIVE_ERROR_RATIO", default=1.5)
VIEWSITE_LIVE_MIN_OUTCOMES = env.int("VIEWSITE_LIVE_MIN_OUTCOMES", default=20)
# The secret that keys the audit trail's seals (HMAC-SHA256; manage.py seal_audit, verify_audit).
# Held by the hosts that seal and verify, never by the database: whoever can write the database
# but lacks it cannot re-make a valid chain over rows they changed. Empty: plain SHA-256, which
# detects accidents and careless tampering only.
VIEWSITE_AUDIT_SEAL_KEY = env.str("VIEWSITE_AUDIT_SEAL_KEY", default="")

# ------------------------------------------------------------------------------------------------
# Admin logins (django-axes)  https://django-axes.readthedocs.io/en/latest/4_configuration.html
# ------------------------------------------------------------------------------------------------
# Axes' backend first: it refuses a locked-out user and address before a password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures are counted per user name and client address together: a guesser at one address is
# stopped, and nobody elsewhere can lock a real staff member out by typing their name.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("VIEWSITE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("VIEWSITE_LOGIN_LOCKOUT_MINUTES", default=15))
# The address the audit trail records, read through the trusted proxies (NUM_PROXIES).
AXES_CLIENT_IP_CALLABLE = "predictor.clients.client_ip"
# The lockout page says until when, in the site's language.
AXES_LOCKOUT_CALLABLE = "predictor.logins.lockout_response"
AXES_RESET_ON_SUCCESS = True
# Every failed login, and whether it was refused by a lockout, for staff in the admin.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# No start-up banner: it would precede the output of every management command (check --deploy's
# "no issues" included); failures and lockouts are still logged.
AXES_VERBOSE = False

# ------------------------------------------------------------------------------------------------
# Model artifact signatures (predictor/services/signing.py)
# https://cryptography.io/en/latest/hazmat/primitives/asymmetric/ed25519/
# ------------------------------------------------------------------------------------------------
# The artifacts live in the database beside their checksums, so whoever can write the database
# could replace both; an Ed25519 signature by a key the database never holds stops that. The
# private key (base64 of its 32 raw bytes) is set only where `retrain` runs; every app host lists
# the public keys it trusts (several, to rotate keys). `manage.py make_signing_key` makes a pair.
# Development runs on a well-known pair, like the development SECRET_KEY; elsewhere there is no
# default, and retrain refuses to store and hosts refuse to serve what nobody could sign.
_DEVELOPMENT_ARTIFACT_SIGNING_KEY = "FRXev8MKH0IN1tRhrKuJrmWtNe/5aDQNlJgNZ+RiGKs="
_DEVELOPMENT_ARTIFACT_VERIFY_KEY = "sYpGjoHPpQ3T8zeZOJdfwPISf2JfuWSiBK0hAmzPD5E="
VIEWSITE_ARTIFACT_SIGNING_KEY = env.str(
    "VIEWSITE_ARTIFACT_SIGNING_KEY", default=_DEVELOPMENT_ARTIFACT_SIGNING_KEY if DEBUG else ""
)
VIEWSITE_ARTIFACT_VERIFY_KEYS = env.list(
    "VIEWSITE_ARTIFACT_VERIFY_KEYS", default=[_DEVELOPMENT_ARTIFACT_VERIFY_KEY] if DEBUG else []
)
# For `check --deploy`, which warns when this well-known pair is in use.
VIEWSITE_DEVELOPMENT_ARTIFACT_KEYS = (
    _DEVELOPMENT_ARTIFACT_SIGNING_KEY,
    _DEVELOPMENT_ARTIFACT_VERIFY_KEY,
)

# ------------------------------------------------------------------------------------------------
# Prometheus metrics at /metrics (predictor/metrics.py)  https://prometheus.github.io/client_python/
# Closed by default: only a client in one of these networks, or presenting the token
# (Authorization: Bearer ...), may read them.
# ------------------------------------------------------------------------------------------------
VIEWSITE_METRICS_ALLOWED_ADDRESSES = [
    # A mistyped entry stops the site at start-up rather than silently allowing nothing.
    str(ipaddress.ip_network(entry, strict=False))
    for entry in env.list("VIEWSITE_METRICS_ALLOWED_ADDRESSES", default=[])
]
VIEWSITE_METRICS_TOKEN = env.str("VIEWSITE_METRICS_TOKEN", default="")
if VIEWSITE_METRICS_TOKEN and len(VIEWSITE_METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "VIEWSITE_METRICS_TOKEN is too short to be secret: use 32 characters or more, e.g. "
        'python -c "import secrets; print(secrets.token_urlsafe(32))".'
    )
# Where gunicorn's workers keep their counts (deploy/gunicorn.conf.py sets it).
VIEWSITE_METRICS_MULTIPROCESS_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")

# ------------------------------------------------------------------------------------------------
# Logging: one JSON object per line on standard error, which systemd's journal collects as it
# does stdout. Not stdout: a management command's answer is its stdout, which a script or a pipe
# reads, and a log line there would be read as part of the answer.
# DJANGO_LOG_FORMAT=text gives plain lines for reading in a terminal.
# ------------------------------------------------------------------------------------------------
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
    },
}
