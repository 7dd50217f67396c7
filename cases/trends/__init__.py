"""Daily roll-ups behind the supervisors' trends (issue 13): tables in `models`, the
service and read model in `cases/services/trends.py`."""
