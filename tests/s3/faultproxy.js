#!/usr/bin/env node
'use strict';
/*
 * Fault-injecting reverse proxy for jobreport's S3 tests (Node stdlib only). It listens on
 * loopback, forwards every request unchanged (Host header included, so SigV4 signatures made for
 * the proxy's address still verify upstream) to the local S3 server, and injects the failures the
 * server cannot produce: 5xx replies, S3 throttling errors, connections reset in the middle of a
 * body, and stalls. Every request is recorded (method, path, query, action, status) so tests can
 * count attempts and check that e.g. an AbortMultipartUpload was sent.
 *
 *   node faultproxy.js --upstream http://127.0.0.1:PORT [--listen 127.0.0.1:0]
 *                      [--port-file FILE] [--log FILE]
 *
 * Requests that pass through are read whole first and refused (400 BadDigest or
 * XAmzContentSHA256Mismatch) when their Content-MD5 or x-amz-content-sha256 header does not match
 * the body, as S3 does and the local server does not.
 *
 * Control endpoints on the same port (never forwarded; bucket names cannot contain '_'):
 *   POST /__fault/rules   body: a JSON rule or array of rules, appended to the rule list
 *   POST /__fault/reset   drop all rules and the request log
 *   GET  /__fault/log     the request log, one JSON object per line
 *
 * A rule: {"method": "PUT", "path": "regex", "query": "regex", "count": N, "action": A, ...}
 * method/path/query are optional (match anything); path is matched against the decoded path and
 * query against the raw query string. The first rule that matches and has count left applies and
 * uses up one count. Actions:
 *   "pass"                  forward unchanged (lets a rule skip N requests before a later rule)
 *   "status"                answer "status" (default 500) with an S3 error document whose Code is
 *                           "code" (default InternalError), after reading the request body
 *   "slowdown"              answer 503 SlowDown
 *   "reply"                 answer "status" (default 200) with "body" as application/xml, after
 *                           reading the request body (e.g. S3's error inside a 200 reply)
 *   "reset"                 uploads (requests with a body): read about half of the body, then
 *                           reset the connection; otherwise forward and reset the connection
 *                           after about half of the response body ("fraction" changes the share)
 *   "stall"                 like "reset", but stop sending for "seconds" (default 10) first, then
 *                           reset the connection
 */
const crypto = require('crypto');
const http = require('http');
const fs = require('fs');
const { URL } = require('url');

function parseArgs(argv) {
    const opts = { listen: '127.0.0.1:0' };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const v = argv[i + 1];
        if (a === '--upstream') opts.upstream = v;
        else if (a === '--listen') opts.listen = v;
        else if (a === '--port-file') opts.portFile = v;
        else if (a === '--log') opts.log = v;
        else {
            process.stderr.write(`faultproxy: unknown argument '${a}'\n`);
            process.exit(2);
        }
        i++;
    }
    if (!opts.upstream) {
        process.stderr.write('faultproxy: --upstream URL is required\n');
        process.exit(2);
    }
    return opts;
}

const opts = parseArgs(process.argv.slice(2));
const upstream = new URL(opts.upstream);
const agent = new http.Agent({ keepAlive: true });
let rules = [];
let records = [];
let seq = 0;

/* Requests are listed from their arrival (status null until they end), so a test sees a stalled
 * request at once; the log file gets each one when it ends. */
function record(rec) {
    if (opts.log) fs.appendFileSync(opts.log, JSON.stringify(rec) + '\n');
}

function compileRule(r) {
    if (typeof r !== 'object' || r === null) throw new Error('a rule must be an object');
    const known = ['pass', 'status', 'slowdown', 'reply', 'reset', 'stall'];
    if (!known.includes(r.action)) throw new Error(`unknown action '${r.action}'`);
    return {
        method: r.method ? String(r.method).toUpperCase() : null,
        path: r.path ? new RegExp(r.path) : null,
        query: r.query ? new RegExp(r.query) : null,
        count: r.count === undefined ? 1 : Number(r.count),
        action: r.action,
        status: r.status ? Number(r.status) : r.action === 'reply' ? 200 : 500,
        body: r.body === undefined ? '' : String(r.body),
        code: r.code || 'InternalError',
        seconds: r.seconds === undefined ? 10 : Number(r.seconds),
        fraction: r.fraction === undefined ? 0.5 : Number(r.fraction),
    };
}

function matchRule(method, path, query) {
    for (const r of rules) {
        if (r.count <= 0) continue;
        if (r.method && r.method !== method) continue;
        if (r.path && !r.path.test(path)) continue;
        if (r.query && !r.query.test(query)) continue;
        r.count--;
        return r;
    }
    return null;
}

function readAll(req, cb) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => cb(Buffer.concat(chunks)));
    req.on('error', () => cb(null));
}

function control(req, res, path) {
    const reply = (status, body) => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(body);
    };
    if (req.method === 'POST' && path === '/__fault/reset') {
        readAll(req, () => {
            rules = [];
            records = [];
            if (opts.log) fs.writeFileSync(opts.log, '');
            reply(200, 'ok\n');
        });
    } else if (req.method === 'POST' && path === '/__fault/rules') {
        readAll(req, (body) => {
            try {
                const parsed = JSON.parse(body.toString('utf8'));
                const list = Array.isArray(parsed) ? parsed : [parsed];
                rules = rules.concat(list.map(compileRule));
                reply(200, 'ok\n');
            } catch (e) {
                reply(400, `bad rules: ${e.message}\n`);
            }
        });
    } else if (req.method === 'GET' && path === '/__fault/log') {
        reply(200, records.map((r) => JSON.stringify(r) + '\n').join(''));
    } else {
        reply(404, 'unknown control endpoint\n');
    }
}

function s3Error(status, code, path, message) {
    const text = message || `injected by faultproxy (HTTP ${status})`;
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<Error><Code>${code}</Code><Message>${text}</Message>` +
        `<Resource>${path.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</Resource>` +
        '<RequestId>faultproxy</RequestId></Error>'
    );
}

function hasRequestBody(req) {
    const len = Number(req.headers['content-length'] || 0);
    return len > 0 || req.headers['transfer-encoding'] !== undefined;
}

/*
 * The local server never compares Content-MD5 or x-amz-content-sha256 with the body; real S3
 * does. Requests that pass through are read whole and checked first, so a client that hashes
 * the wrong bytes fails here as it would against S3.
 */
function checkBody(req, body) {
    const md5 = req.headers['content-md5'];
    const sha = req.headers['x-amz-content-sha256'];
    if (md5 !== undefined && crypto.createHash('md5').update(body).digest('base64') !== md5)
        return 'BadDigest';
    if (sha !== undefined && /^[0-9a-f]{64}$/.test(sha) &&
        crypto.createHash('sha256').update(body).digest('hex') !== sha)
        return 'XAmzContentSHA256Mismatch';
    return null;
}

/* Forward req upstream; hooks.onResponse(upRes) may take over the reply instead of piping. */
function forward(req, res, rec, hooks) {
    readAll(req, (body) => {
        if (body === null) return;
        const bad = checkBody(req, body);
        if (bad) {
            rec.status = 400;
            rec.error = bad;
            const xml = s3Error(400, bad, req.url, 'the body does not match its digest header (faultproxy)');
            res.writeHead(400, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
            res.end(xml);
            return;
        }
        const up = http.request(
            {
                host: upstream.hostname,
                port: upstream.port,
                method: req.method,
                path: req.url,
                headers: req.headers,
                agent,
            },
            (upRes) => {
                rec.status = upRes.statusCode;
                if (hooks && hooks.onResponse) {
                    hooks.onResponse(upRes);
                    return;
                }
                res.writeHead(upRes.statusCode, upRes.headers);
                upRes.pipe(res);
            }
        );
        up.on('error', (e) => {
            rec.status = 502;
            rec.error = e.message;
            if (!res.headersSent) {
                res.writeHead(502, { 'content-type': 'text/plain' });
                res.end(`faultproxy: upstream error: ${e.message}\n`);
            } else {
                res.destroy();
            }
        });
        up.end(body);
    });
}

/* Send the response headers and a share of the body, then stall (optionally) and reset. */
function breakResponse(req, res, rec, rule, upRes) {
    const total = Number(upRes.headers['content-length'] || 0);
    const limit = Math.floor(total * rule.fraction);
    let sent = 0;
    let broken = false;
    res.writeHead(upRes.statusCode, upRes.headers);
    const kill = () => {
        rec.status = 0;
        rec.broken_after = sent;
        upRes.destroy();
        req.socket.destroy();
    };
    const breakNow = () => {
        if (broken) return;
        broken = true;
        upRes.pause();
        if (rule.action === 'stall') setTimeout(kill, rule.seconds * 1000);
        else res.write(Buffer.alloc(0), kill);
    };
    if (limit <= 0) {
        res.flushHeaders();
        breakNow();
        return;
    }
    upRes.on('data', (chunk) => {
        if (broken) return;
        const room = limit - sent;
        if (chunk.length >= room) {
            res.write(chunk.subarray(0, room));
            sent += room;
            breakNow();
        } else {
            res.write(chunk);
            sent += chunk.length;
        }
    });
    upRes.on('end', () => {
        if (!broken) breakNow();
    });
}

/* Read a share of the request body, then stall (optionally) and reset the connection. */
function breakUpload(req, rec, rule) {
    const total = Number(req.headers['content-length'] || 0);
    const limit = Math.max(1, Math.floor(total * rule.fraction));
    let got = 0;
    let broken = false;
    const kill = () => {
        rec.status = 0;
        rec.broken_after = got;
        req.socket.destroy();
    };
    req.on('data', (chunk) => {
        got += chunk.length;
        if (!broken && got >= limit) {
            broken = true;
            req.pause();
            if (rule.action === 'stall') setTimeout(kill, rule.seconds * 1000);
            else kill();
        }
    });
    req.on('end', () => {
        if (!broken) {
            broken = true;
            kill();
        }
    });
}

const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://proxy.invalid');
    let path;
    try {
        path = decodeURIComponent(u.pathname);
    } catch (e) {
        path = u.pathname;
    }
    const query = u.search.startsWith('?') ? u.search.slice(1) : u.search;
    if (u.pathname.startsWith('/__fault/')) {
        control(req, res, u.pathname);
        return;
    }
    const rule = matchRule(req.method, path, query);
    const rec = {
        seq: ++seq,
        method: req.method,
        path,
        query,
        action: rule ? rule.action : 'pass',
        status: null,
    };
    records.push(rec);
    res.on('close', () => record(rec));
    req.socket.on('error', () => {});
    if (!rule || rule.action === 'pass') {
        forward(req, res, rec, null);
    } else if (rule.action === 'status' || rule.action === 'slowdown') {
        const status = rule.action === 'slowdown' ? 503 : rule.status;
        const code = rule.action === 'slowdown' ? 'SlowDown' : rule.code;
        rec.status = status;
        readAll(req, () => {
            const body = req.method === 'HEAD' ? '' : s3Error(status, code, path);
            res.writeHead(status, {
                'content-type': 'application/xml',
                'content-length': Buffer.byteLength(body),
                'x-amz-request-id': 'faultproxy',
            });
            res.end(body);
        });
    } else if (rule.action === 'reply') {
        rec.status = rule.status;
        readAll(req, () => {
            res.writeHead(rule.status, {
                'content-type': 'application/xml',
                'content-length': Buffer.byteLength(rule.body),
                'x-amz-request-id': 'faultproxy',
            });
            res.end(rule.body);
        });
    } else if (hasRequestBody(req)) {
        breakUpload(req, rec, rule);
    } else {
        forward(req, res, rec, { onResponse: (upRes) => breakResponse(req, res, rec, rule, upRes) });
    }
});

server.keepAliveTimeout = 30000;
const [host, port] = opts.listen.split(':');
server.listen(Number(port), host, () => {
    const actual = server.address().port;
    if (opts.log) fs.writeFileSync(opts.log, '');
    if (opts.portFile) {
        fs.writeFileSync(opts.portFile + '.tmp', `${actual}\n`);
        fs.renameSync(opts.portFile + '.tmp', opts.portFile);
    }
    process.stdout.write(`faultproxy listening on ${host}:${actual}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
