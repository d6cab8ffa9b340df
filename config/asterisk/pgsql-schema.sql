-- The tables cdr_pgsql, cel_pgsql and res_config_pgsql (queue_log) write, as cti reads them: Asterisk's
-- sample columns plus an id serial on each (cti follows every table by id). The simulator creates the same.
CREATE TABLE IF NOT EXISTS cdr (
    id bigserial PRIMARY KEY, calldate timestamp NOT NULL, clid varchar(80) NOT NULL DEFAULT '',
    src varchar(80) NOT NULL DEFAULT '', dst varchar(80) NOT NULL DEFAULT '',
    dcontext varchar(80) NOT NULL DEFAULT '', channel varchar(80) NOT NULL DEFAULT '',
    dstchannel varchar(80) NOT NULL DEFAULT '', lastapp varchar(80) NOT NULL DEFAULT '',
    lastdata varchar(80) NOT NULL DEFAULT '', duration bigint NOT NULL DEFAULT 0,
    billsec bigint NOT NULL DEFAULT 0, disposition varchar(45) NOT NULL DEFAULT '',
    amaflags bigint NOT NULL DEFAULT 0, accountcode varchar(20) NOT NULL DEFAULT '',
    uniqueid varchar(150) NOT NULL DEFAULT '', userfield varchar(255) NOT NULL DEFAULT '',
    peeraccount varchar(20) NOT NULL DEFAULT '', linkedid varchar(150) NOT NULL DEFAULT '',
    sequence int NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cel (
    id bigserial PRIMARY KEY, eventtype varchar(30) NOT NULL, eventtime timestamp NOT NULL,
    userdeftype varchar(255) NOT NULL DEFAULT '', cid_name varchar(80) NOT NULL DEFAULT '',
    cid_num varchar(80) NOT NULL DEFAULT '', cid_ani varchar(80) NOT NULL DEFAULT '',
    cid_rdnis varchar(80) NOT NULL DEFAULT '', cid_dnid varchar(80) NOT NULL DEFAULT '',
    exten varchar(80) NOT NULL DEFAULT '', context varchar(80) NOT NULL DEFAULT '',
    channame varchar(80) NOT NULL DEFAULT '', appname varchar(80) NOT NULL DEFAULT '',
    appdata varchar(80) NOT NULL DEFAULT '', amaflags int NOT NULL DEFAULT 0,
    accountcode varchar(20) NOT NULL DEFAULT '', peeraccount varchar(20) NOT NULL DEFAULT '',
    uniqueid varchar(150) NOT NULL DEFAULT '', linkedid varchar(150) NOT NULL DEFAULT '',
    userfield varchar(255) NOT NULL DEFAULT '', peer varchar(80) NOT NULL DEFAULT '',
    extra varchar(512) NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS queue_log (
    id bigserial PRIMARY KEY, time timestamp NOT NULL, callid varchar(80) NOT NULL DEFAULT '',
    queuename varchar(256) NOT NULL DEFAULT '', agent varchar(80) NOT NULL DEFAULT '',
    event varchar(32) NOT NULL DEFAULT '', data1 varchar(100) NOT NULL DEFAULT '',
    data2 varchar(100) NOT NULL DEFAULT '', data3 varchar(100) NOT NULL DEFAULT '',
    data4 varchar(100) NOT NULL DEFAULT '', data5 varchar(100) NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS cdr_calldate ON cdr (calldate);
CREATE INDEX IF NOT EXISTS cel_eventtime ON cel (eventtime);
CREATE INDEX IF NOT EXISTS queue_log_time ON queue_log (time);
