"""The import-time floor: what every HTTP function needs at the least, and nothing of ours.

benchmarks/run.py imports this module in fresh processes and compares each handler against it.
"""

import pg8000  # noqa: F401
import pydantic  # noqa: F401
import sqlalchemy  # noqa: F401
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver  # noqa: F401
