from setuptools import find_packages, setup

setup(
    name="dora-assets",
    version="0.1.0",
    description="A Dagster asset graph that turns raw engineering events into DORA metrics you can trust.",
    python_requires=">=3.11,<3.12",
    packages=find_packages(exclude=["dora_assets_tests", "dora_assets_tests.*"]),
    package_data={"dora_assets": ["*/sql/*.sql", "demo/templates/*/*.json", "report/*.css"]},
    install_requires=[
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-duckdb==0.29.27",
        # The production profile keeps the Dagster instance (runs, event logs, schedules) in
        # PostgreSQL when DAGSTER_PG_URL is set (docs/production.md). Integration libraries are
        # versioned 0.x beside dagster 1.x: 0.29.27 is the one that requires dagster==1.13.27. It
        # brings psycopg2, its driver.
        "dagster-postgres==0.29.27",
        # SQLAlchemy 2.1 maps postgresql:// URLs to psycopg 3, which dagster-postgres 0.29 does not
        # run on (its NOTIFY takes a bound parameter, a syntax error under psycopg 3); 2.0 maps them
        # to psycopg2, so DAGSTER_PG_URL=postgresql://... works as Dagster documents it.
        "SQLAlchemy==2.0.58",
        "duckdb==2.0.1",
        "httpx==0.28.1",
        "pandas==3.1.1",
        "pydantic==2.14.4",
        "PyYAML==6.0.4",
        # The dora-assets command is built on click; it also comes with dagster (its own CLIs use it).
        "click==8.5.1",
        # The webhook receiver imports these directly; they also come with dagster-webserver.
        "starlette==1.10.0",
        "uvicorn==0.54.0",
    ],
    extras_require={"dev": ["pytest==9.2.0", "pytest-xdist==3.8.0", "ruff==0.17.6"]},
    entry_points={"console_scripts": ["dora-assets=dora_assets.cli:main"]},
)
