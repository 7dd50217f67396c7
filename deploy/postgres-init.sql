-- The compose cluster's two databases (names as in deploy/cluster.env's defaults).
CREATE DATABASE healthpass;
CREATE DATABASE prefect;
