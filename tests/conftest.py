pytest_plugins = ["tests.http_fixtures"]
