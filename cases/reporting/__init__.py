"""R23: municipal reporting obligations, the cities' reports and their timeliness."""
