/**
 * lambdalet Node.js runtime client for the AWS Lambda Runtime API (2018-06-01).
 *
 * The daemon launches it as `node bootstrap.js` with the function's code
 * directory as cwd and AWS_LAMBDA_RUNTIME_API / _HANDLER / LAMBDA_TASK_ROOT
 * set.  Handler resolution, the callback/context programming model
 * (callbackWaitsForEmptyEventLoop, context.done/succeed/fail), error shapes and
 * the console log format follow AWS's aws-lambda-nodejs-runtime-interface-client
 * (the runtime behind nodejs16.x-nodejs22.x).
 *
 * Response streaming follows the same client: `awslambda.streamifyResponse(handler)`
 * marks a handler `async (event, responseStream, context)` whose writes go to the
 * Runtime API as they happen (`Lambda-Runtime-Function-Response-Mode: streaming`,
 * chunked, an error as trailers), and `awslambda.HttpResponseStream.from(stream,
 * {statusCode, headers, cookies})` puts the JSON prelude and 8 NUL bytes first.
 *
 * Node 16+, no npm dependencies.  HTTP goes through the `http` module with one
 * keep-alive socket.
 */

'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const util = require('util');
const { Writable } = require('stream');
const { pathToFileURL } = require('url');

const API_PREFIX = '/2018-06-01';
const MAX_RESPONSE_SIZE = 6 * 1024 * 1024 + 100; // the Runtime API answers 413 above this
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const BINARY =
  (process.env.LAMBDALET_PAYLOAD_ENCODING || 'json').trim().toLowerCase() === 'binary';
const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID_SYMBOL = Symbol.for('aws.lambda.runtime.tenantId');

/* ------------------------------------------------------------------------ */
/* Errors (names as in the official runtime's Errors.js)                     */
/* ------------------------------------------------------------------------ */

const Errors = {};
[
  class ImportModuleError extends Error {},
  class HandlerNotFound extends Error {},
  class MalformedHandlerName extends Error {},
  class UserCodeSyntaxError extends Error {},
  class MarshalError extends Error {},
  class NodeJsExit extends Error {
    constructor() {
      super(
        'The Lambda runtime client detected an unexpected Node.js exit code. ' +
          'This is most commonly caused by a Promise that was never settled. ' +
          'For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
      );
    }
  },
  class UnhandledPromiseRejection extends Error {
    constructor(reason, promise) {
      super(reason);
      this.reason = reason;
      this.promise = promise;
    }
  },
].forEach((cls) => {
  Errors[cls.name] = cls;
  cls.prototype.name = `Runtime.${cls.name}`;
});

function isErrorLike(obj) {
  return (
    obj &&
    typeof obj.name === 'string' &&
    typeof obj.message === 'string' &&
    typeof obj.stack === 'string' &&
    obj.name &&
    obj.message &&
    obj.stack
  );
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

/** Body posted to /error and /init/error: {errorType, errorMessage, trace}. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name || 'Error',
        errorMessage: error.message,
        trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
      };
    }
    return {
      errorType: typeof error,
      errorMessage: String(error),
      trace: [],
    };
  } catch (_e) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function withEnumerableProperties(value) {
  if (value instanceof Error) {
    const ret = Object.assign(
      { errorType: value.name, errorMessage: value.message, code: value.code },
      value,
    );
    if (typeof value.stack === 'string') ret.stack = value.stack.split('\n');
    return ret;
  }
  return value;
}

/** "\t{json}" as the official runtime logs errors. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch (_e) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

/* ------------------------------------------------------------------------ */
/* console patching: `${ISO time}\t${requestId}\t${LEVEL}\t${message}`        */
/* ------------------------------------------------------------------------ */

const LEVELS = {
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
};

const JSON_LOGS = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

function logLine(level, message, ...params) {
  if (JSON_LOGS) {
    // AWS_LAMBDA_LOG_FORMAT=JSON: one object per call, as Lambda's runtime writes it.
    const record = {
      timestamp: new Date().toISOString(),
      level: level.name,
      requestId: global[REQUEST_ID_SYMBOL],
      message: util.format(message, ...params),
    };
    if (message instanceof Error && params.length === 0) {
      record.errorType = message.name;
      record.errorMessage = message.message;
      record.stackTrace = String(message.stack || '').split('\n');
    }
    process.stdout.write(JSON.stringify(record) + '\n');
    return;
  }
  const line = `${new Date().toISOString()}\t${global[REQUEST_ID_SYMBOL]}\t${level.name}\t${util.format(
    message,
    ...params,
  )}`;
  // One log record per line, as the official runtime does for stdout.
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const minLevel =
    LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;
  const nop = () => {};
  const make = (level) =>
    level.priority >= minLevel.priority ? (msg, ...params) => logLine(level, msg, ...params) : nop;
  console.trace = make(LEVELS.TRACE);
  console.debug = make(LEVELS.DEBUG);
  console.info = make(LEVELS.INFO);
  console.log = console.info;
  console.warn = make(LEVELS.WARN);
  console.error = make(LEVELS.ERROR);
  console.fatal = (msg, ...params) => logLine(LEVELS.FATAL, msg, ...params);
}

function logError(msg, err) {
  console.error(msg, toFormatted(intoError(err)));
}

/* ------------------------------------------------------------------------ */
/* Runtime API client                                                        */
/* ------------------------------------------------------------------------ */

function parseAddress(addr) {
  const idx = (addr || '').lastIndexOf(':');
  if (idx < 0) throw new Error(`bad AWS_LAMBDA_RUNTIME_API value '${addr}'`);
  let host = addr.slice(0, idx) || '127.0.0.1';
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: parseInt(addr.slice(idx + 1), 10) };
}

const RAPID = process.env.AWS_LAMBDA_RUNTIME_API ? parseAddress(process.env.AWS_LAMBDA_RUNTIME_API) : null;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let nextInFlight = false;

function fatal(message) {
  try {
    process.stderr.write(`lambdalet runtime: ${message}\n`);
  } finally {
    process.exit(1);
  }
}

const RETRYABLE = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED']);

/** One HTTP request to the Runtime API; resolves {status, headers, body: Buffer}. */
function rapidRequest(method, urlPath, body, headers, attempt = 0) {
  return new Promise((resolve, reject) => {
    const reqHeaders = Object.assign({}, headers);
    if (body !== undefined) reqHeaders['Content-Length'] = body.length;
    const req = http.request(
      {
        host: RAPID.host,
        port: RAPID.port,
        method,
        path: API_PREFIX + urlPath,
        headers: reqHeaders,
        agent,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      // A stale keep-alive socket (closed by the server) or a server that is
      // momentarily not accepting: retry on a fresh connection.
      const oversized = body !== undefined && body.length > MAX_RESPONSE_SIZE;
      if (attempt < 5 && RETRYABLE.has(err.code) && !oversized) {
        setTimeout(
          () => rapidRequest(method, urlPath, body, headers, attempt + 1).then(resolve, reject),
          attempt === 0 ? 0 : 5 << attempt,
        );
      } else {
        reject(err);
      }
    });
    req.end(body);
  });
}

/** Resolve once everything written to stdout/stderr so far has reached the pipe. */
function flushStdio() {
  const pending = [];
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableLength > 0) pending.push(new Promise((resolve) => stream.write('', resolve)));
  }
  return pending.length ? Promise.all(pending) : null;
}

async function rapidPost(urlPath, body, headers) {
  const flushed = flushStdio();
  if (flushed) await flushed;
  let res;
  try {
    res = await rapidRequest('POST', urlPath, body, headers);
  } catch (err) {
    // An oversized body may be refused (413) with the connection dropped
    // before it was read: that is a rejection, not a broken Runtime API.
    if (body.length > MAX_RESPONSE_SIZE) return { status: 413, headers: {}, body: Buffer.alloc(0) };
    fatal(`POST ${urlPath} failed: ${err && err.message}`);
  }
  if (res.status >= 500) {
    // "container error: the runtime should exit promptly"
    fatal(`POST ${urlPath} returned ${res.status}: ${res.body.toString('utf8', 0, 1024)}`);
  }
  return res;
}

function sanitizeHeaderValue(value) {
  return String(value).replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
}

function errorHeaders(errorType) {
  return {
    'Content-Type': 'application/json',
    [ERROR_TYPE_HEADER]: sanitizeHeaderValue(errorType === undefined ? 'Unknown' : errorType),
  };
}

/**
 * lambdalet's framed Runtime API, on the socket the daemon passed as a descriptor
 * (LAMBDALET_RUNTIME_FD): a frame is two little-endian u32 lengths (header, body), the header
 * (NUL-separated fields, the first naming the frame) and the body. A response and the request
 * for the next event go out in one write. The socket holds the event loop only while an event
 * is awaited, so a handler that leaves the loop empty still ends as over HTTP.
 */
class Frames {
  constructor(fd) {
    const net = require('net');
    this.socket = new net.Socket({ fd, readable: true, writable: true });
    this.socket.setNoDelay && this.socket.setNoDelay(true);
    this.socket.unref();
    this.buf = Buffer.alloc(0);
    this.waiting = null; // {resolve, reject} of the awaited event
    this.nextSent = false;
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('the daemon closed the runtime channel')));
  }

  static frame(fields, body) {
    const header = Buffer.from(fields.map((f) => String(f).replace(/\0/g, ' ')).join('\0'), 'utf8');
    const lengths = Buffer.alloc(8);
    lengths.writeUInt32LE(header.length, 0);
    lengths.writeUInt32LE(body ? body.length : 0, 4);
    return body && body.length ? [lengths, header, body] : [lengths, header];
  }

  fail(err) {
    const w = this.waiting;
    this.waiting = null;
    if (w) w.reject(err);
  }

  onData(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.buf.length < 8) return;
    const h = this.buf.readUInt32LE(0);
    const b = this.buf.readUInt32LE(4);
    if (this.buf.length < 8 + h + b) return;
    const fields = this.buf.toString('utf8', 8, 8 + h).split('\0');
    const body = Buffer.from(this.buf.subarray(8 + h, 8 + h + b));
    this.buf = this.buf.subarray(8 + h + b);
    const w = this.waiting;
    this.waiting = null;
    this.socket.unref();
    if (!w) return;
    if (fields[0] !== 'event') {
      w.reject(new Error(`next was refused (${fields[1]} ${fields[2]}): ${body.toString('utf8', 0, 1024)}`));
      return;
    }
    const names = [
      'lambda-runtime-aws-request-id',
      'lambda-runtime-deadline-ms',
      'lambda-runtime-invoked-function-arn',
      'lambda-runtime-trace-id',
      'lambda-runtime-client-context',
      'lambda-runtime-cognito-identity',
      'content-type',
    ];
    const headers = {};
    names.forEach((name, i) => {
      if (fields[i + 1]) headers[name] = fields[i + 1];
    });
    w.resolve({ headers, body });
  }

  next() {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.ref();
      if (!this.nextSent) this.socket.write(Buffer.concat(Frames.frame(['next'])));
      this.nextSent = false;
    });
  }

  /** A response, error or init error; the request for the next event rides along (but not
   * after an init error, which ends the runtime). */
  post(fields, body) {
    const parts = Frames.frame(fields, body);
    if (fields[0] !== 'init-error') {
      parts.push(...Frames.frame(['next']));
      this.nextSent = true;
    }
    return new Promise((resolve) => this.socket.write(Buffer.concat(parts), () => resolve({ status: 202 })));
  }
}

const FRAMES = (() => {
  const fd = process.env.LAMBDALET_RUNTIME_FD;
  delete process.env.LAMBDALET_RUNTIME_FD;
  return fd && /^[0-9]+$/.test(fd) ? new Frames(parseInt(fd, 10)) : null;
})();

async function framesPost(fields, body) {
  const flushed = flushStdio();
  if (flushed) await flushed;
  return FRAMES.post(fields, body);
}

const client = {
  async nextInvocation() {
    nextInFlight = true;
    if (FRAMES) {
      try {
        return await FRAMES.next();
      } catch (err) {
        fatal(`next failed: ${err && err.message}`);
      } finally {
        nextInFlight = false;
      }
    }
    let res;
    try {
      res = await rapidRequest('GET', '/runtime/invocation/next');
    } catch (err) {
      fatal(`GET /runtime/invocation/next failed: ${err && err.message}`);
    } finally {
      nextInFlight = false;
    }
    if (res.status !== 200) {
      fatal(`GET /runtime/invocation/next returned ${res.status}: ${res.body.toString('utf8', 0, 1024)}`);
    }
    return { headers: res.headers, body: res.body };
  },

  /** Serialize `result` and post it; a serialization failure posts Runtime.MarshalError instead. */
  postInvocationResponse(result, id, callback) {
    let payload;
    let contentType;
    try {
      [payload, contentType] = marshal(result);
    } catch (_e) {
      const err = new Errors.MarshalError('Unable to stringify response body');
      logError('Invoke Error', err);
      client.postInvocationError(err, id, callback);
      return;
    }
    const posted = FRAMES
      ? framesPost(['response', id, contentType], payload)
      : rapidPost(`/runtime/invocation/${encodeURIComponent(id)}/response`, payload, {
          'Content-Type': contentType,
        });
    posted.then(() => callback && callback());
  },

  postInvocationError(error, id, callback) {
    const response = toRapidResponse(error);
    let body;
    try {
      body = Buffer.from(JSON.stringify(response));
    } catch (_e) {
      body = Buffer.from(JSON.stringify(toRapidResponse(String(error))));
    }
    const posted = FRAMES
      ? framesPost(['error', id, errorHeaders(response.errorType)[ERROR_TYPE_HEADER]], body)
      : rapidPost(`/runtime/invocation/${encodeURIComponent(id)}/error`, body, errorHeaders(response.errorType));
    posted.then(() => callback && callback());
  },

  postInitError(error, callback) {
    const response = toRapidResponse(error);
    const body = Buffer.from(JSON.stringify(response));
    const posted = FRAMES
      ? framesPost(['init-error', errorHeaders(response.errorType)[ERROR_TYPE_HEADER]], body)
      : rapidPost('/runtime/init/error', body, errorHeaders(response.errorType));
    posted.then(() => callback && callback());
  },
};

function marshal(result) {
  if (BINARY) {
    if (Buffer.isBuffer(result)) return [result, 'application/octet-stream'];
    if (result instanceof Uint8Array) {
      return [Buffer.from(result.buffer, result.byteOffset, result.byteLength), 'application/octet-stream'];
    }
    if (result instanceof ArrayBuffer) return [Buffer.from(result), 'application/octet-stream'];
    if (typeof result === 'string') return [Buffer.from(result, 'utf8'), 'text/plain; charset=utf-8'];
  }
  let text = JSON.stringify(result === undefined ? null : result);
  if (text === undefined) text = 'null'; // functions, symbols
  return [Buffer.from(text, 'utf8'), 'application/json'];
}

/* ------------------------------------------------------------------------ */
/* Response streaming (the global `awslambda`)                               */
/* ------------------------------------------------------------------------ */

const STREAMING_SYMBOL = Symbol.for('aws.lambda.runtime.handler.streaming');
const HIGH_WATER_MARK_SYMBOL = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';
const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DEFAULT_STREAM_CONTENT_TYPE = 'application/octet-stream';
const PRELUDE_DELIMITER = Buffer.alloc(8); // eight NUL bytes end the HTTP prelude
const ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';

/**
 * The `responseStream` of a streaming handler: a Writable whose chunks go to
 * POST /runtime/invocation/{id}/response in streaming mode.  The request opens at
 * the first write (or at the end), so the content type can be set until then.
 */
class ResponseStream extends Writable {
  constructor(id, highWaterMark) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
    this._id = id;
    this._contentType = DEFAULT_STREAM_CONTENT_TYPE;
    this._req = null;
    this._answered = false; // the Runtime API answered (or the request failed): drop the rest
    this._error = undefined; // an error to report in the trailers
    this._onBeforeFirstWrite = null;
    this._finished = null;
    this._finishing = false;
    this.done = new Promise((resolve) => {
      this._resolveDone = resolve;
    });
    // An error of the stream itself (a destroy(err)) is reported in the trailers.
    this.on('error', NO_OP);
  }

  setContentType(contentType) {
    if (this._req) throw new Error('Cannot set content-type, too late.');
    this._contentType = String(contentType);
  }

  _open() {
    if (this._req) return;
    const req = http.request({
      host: RAPID.host,
      port: RAPID.port,
      method: 'POST',
      path: `${API_PREFIX}/runtime/invocation/${encodeURIComponent(this._id)}/response`,
      agent,
      headers: {
        'Content-Type': sanitizeHeaderValue(this._contentType),
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        Trailer: `${ERROR_TYPE_HEADER}, ${ERROR_BODY_TRAILER}`,
      },
    });
    req.setNoDelay(true);
    this._finished = new Promise((resolve) => {
      req.on('response', (res) => {
        this._answered = true;
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
        res.on('error', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      });
      req.on('error', (err) => {
        this._answered = true;
        resolve({ error: err });
      });
    });
    this._req = req;
    const before = this._onBeforeFirstWrite;
    this._onBeforeFirstWrite = null;
    if (before) before((chunk) => req.write(chunk));
  }

  _write(chunk, _encoding, callback) {
    this._open();
    if (this._answered) return callback();
    // Errors surface on the request (its 'error' listener), never as the stream's own.
    this._req.write(chunk, () => callback());
  }

  _final(callback) {
    this._finish().then(() => callback());
  }

  _destroy(err, callback) {
    // Destroyed before its end (by the handler, or by an error): end the request, with
    // `err` in the trailers.
    if (err && this._error === undefined) this._error = err;
    this._finish();
    callback(err);
  }

  /** Ends the request once (trailers first if there is an error) and waits for the answer. */
  _finish() {
    if (this._finishing) return this.done;
    this._finishing = true;
    this._open();
    const finish = async () => {
      const flushed = flushStdio();
      if (flushed) await flushed;
      if (!this._answered) {
        if (this._error !== undefined) {
          const response = toRapidResponse(this._error);
          this._req.addTrailers({
            [ERROR_TYPE_HEADER]: sanitizeHeaderValue(response.errorType),
            [ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify(response)).toString('base64'),
          });
        }
        this._req.end();
      }
      const res = await this._finished;
      if (res.status === 413) {
        console.error(`Invoke Error\tthe response stream was refused: ${res.body.toString('utf8', 0, 1024)}`);
      } else if (res.status !== undefined && res.status >= 500) {
        fatal(`streamed POST returned ${res.status}: ${res.body.toString('utf8', 0, 1024)}`);
      }
    };
    finish().then(this._resolveDone, this._resolveDone);
    return this.done;
  }

  /** Ends the stream with `error` in its trailers (after what was written). */
  fail(error) {
    if (!this.writableEnded && !this.destroyed) {
      this._error = error;
      this.end();
    }
    return this.done;
  }
}

class HttpResponseStream {
  /** The stream of a function URL in RESPONSE_STREAM mode: `prelude` (statusCode, headers,
   * cookies) as JSON and 8 NUL bytes before the body. */
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
    const metadata = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(PRELUDE_DELIMITER);
    };
    return underlyingStream;
  }
}

global.awslambda = {
  streamifyResponse(handler, options) {
    handler[STREAMING_SYMBOL] = STREAM_RESPONSE;
    if (options && Number.isInteger(options.highWaterMark)) {
      handler[HIGH_WATER_MARK_SYMBOL] = options.highWaterMark;
    }
    return handler;
  },
  HttpResponseStream,
};

/* ------------------------------------------------------------------------ */
/* Loading the handler (mirrors the official UserFunction.js)                */
/* ------------------------------------------------------------------------ */

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;

function hasFolderPackageJsonTypeModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const pj = path.join(folder, 'package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
      if (pkg) return pkg.type === 'module';
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  const parent = path.resolve(folder, '..');
  if (parent === folder) return false;
  return hasFolderPackageJsonTypeModule(parent);
}

function tryRequireFile(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? require(p) : undefined;
}

async function tryAwaitImport(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? await import(pathToFileURL(p).href) : undefined;
}

async function tryRequire(appRoot, moduleRoot, module) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, module);

  // Extensionless files (and directories with an index.js) load via require.
  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) return extensionless;

  // .js is CommonJS unless the nearest package.json says "type": "module".
  const pjHasModule = hasFolderPackageJsonTypeModule(path.resolve(path.dirname(lambdaStylePath)));
  if (!pjHasModule) {
    const loaded = tryRequireFile(lambdaStylePath, '.js');
    if (loaded) return loaded;
  }

  const loaded =
    (pjHasModule && (await tryAwaitImport(lambdaStylePath, '.js'))) ||
    (await tryAwaitImport(lambdaStylePath, '.mjs')) ||
    tryRequireFile(lambdaStylePath, '.cjs');
  if (loaded) return loaded;

  // Fall back to node's own resolution (e.g. a package in node_modules).
  const nodeStylePath = require.resolve(module, { paths: [appRoot, moduleRoot] });
  return require(nodeStylePath);
}

async function loadUserApp(appRoot, moduleRoot, module) {
  try {
    return await tryRequire(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) throw new Errors.UserCodeSyntaxError(e);
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new Errors.ImportModuleError(e);
    }
    throw e;
  }
}

async function loadHandler(appRoot, fullHandlerString) {
  if (fullHandlerString.includes('..')) {
    throw new Errors.MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
  const match = handlerString.match(FUNCTION_EXPR);
  if (!match || match.length !== 3) throw new Errors.MalformedHandlerName('Bad handler');
  const [, module, handlerPath] = match;

  const userApp = await loadUserApp(appRoot, moduleRoot, module);
  const handlerFunc = handlerPath.split('.').reduce((nested, key) => nested && nested[key], userApp);
  if (!handlerFunc) {
    throw new Errors.HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  }
  if (typeof handlerFunc !== 'function') {
    throw new Errors.HandlerNotFound(`${fullHandlerString} is not a function`);
  }
  return handlerFunc;
}

/* ------------------------------------------------------------------------ */
/* Invocation loop (mirrors the official Runtime.js / CallbackContext.js)    */
/* ------------------------------------------------------------------------ */

const NO_OP = () => {};
let beforeExitListener = NO_OP;

const errorCallbacks = {
  uncaughtException: (error) => client.postInitError(error, () => process.exit(129)),
  unhandledRejection: (error) => client.postInitError(error, () => process.exit(128)),
};

function buildCallbackContext(id, scheduleNext) {
  const postError = (err, callback) => {
    logError('Invoke Error', err);
    client.postInvocationError(err, id, callback);
  };

  let isCompleteInvoked = false;
  const complete = (result, callback) => {
    if (isCompleteInvoked) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    isCompleteInvoked = true;
    client.postInvocationResponse(result, id, callback);
  };

  let waitForEmptyEventLoop = true;

  const callback = function (err, result) {
    beforeExitListener = NO_OP;
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      beforeExitListener = () => {
        setImmediate(() => complete(result, scheduleNext));
      };
    }
  };

  const done = (err, result) => {
    beforeExitListener = NO_OP;
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else {
      complete(result, scheduleNext);
    }
  };
  const succeed = (result) => done(null, result);
  const fail = (err) => {
    if (err === undefined || err === null) done('handled');
    else done(err, null);
  };

  // Only the first call to any of callback/done/succeed/fail counts.
  let finished = false;
  const onlyFirst = (fn) =>
    function () {
      if (!finished) {
        finished = true;
        fn.apply(null, arguments);
      }
    };

  const callbackContext = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: onlyFirst(succeed),
    fail: onlyFirst(fail),
    done: onlyFirst(done),
  };
  const markCompleted = () => {
    isCompleteInvoked = true;
    finished = true;
  };
  return [onlyFirst(callback), callbackContext, markCompleted];
}

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

function attachEnvironmentData(callbackContext, headers) {
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) process.env._X_AMZN_TRACE_ID = trace;
  else delete process.env._X_AMZN_TRACE_ID;
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return Object.assign(
    callbackContext,
    {
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    },
    {
      clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
      identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: headers['lambda-runtime-aws-request-id'],
      tenantId: headers['lambda-runtime-aws-tenant-id'],
      getRemainingTimeInMillis: function () {
        return deadline - Date.now();
      },
    },
  );
}

function isPromise(obj) {
  return obj && obj.then && typeof obj.then === 'function';
}

class Runtime {
  constructor(handler) {
    this.handler = handler;
    this.streaming = !!handler && handler[STREAMING_SYMBOL] === STREAM_RESPONSE;
    this.highWaterMark = handler && handler[HIGH_WATER_MARK_SYMBOL];
    this.stream = null; // the response stream of the running streaming invocation
    this.isAsync = !!(handler && handler.constructor && handler.constructor.name === 'AsyncFunction');
    this.currentId = undefined;
    this.completed = true;
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().then(NO_OP, (err) => {
        console.log(`Unexpected Top Level Error: ${err && err.toString()}`);
        errorCallbacks.uncaughtException(err);
      });
    });
  }

  async handleOnce() {
    const { headers, body } = await client.nextInvocation();
    const id = headers['lambda-runtime-aws-request-id'];
    if (!id) fatal('invocation without Lambda-Runtime-Aws-Request-Id');
    global[REQUEST_ID_SYMBOL] = id;
    global[TENANT_ID_SYMBOL] = headers['lambda-runtime-aws-tenant-id'];
    this.currentId = id;
    this.completed = false;

    const scheduleNext = () => {
      this.completed = true;
      this.scheduleIteration();
    };
    if (this.streaming) {
      this.handleStreaming(id, headers, body, scheduleNext);
      return;
    }
    const [callback, callbackContext, markCompleted] = buildCallbackContext(id, scheduleNext);

    try {
      this.setErrorCallbacks(id);
      this.setDefaultExitListener(id, markCompleted, scheduleNext);
      const context = attachEnvironmentData(callbackContext, headers);
      const event = BINARY ? body : JSON.parse(body.toString('utf8'));
      const result = this.handler(event, context, callback);
      if (isPromise(result)) {
        result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
      }
      // A plain synchronous return value is ignored, as AWS's runtime interface client for
      // nodejs16.x-22.x ignores it: the handler answers through the callback, or `null`
      // once the event loop is empty (see setDefaultExitListener).
    } catch (err) {
      callback(err);
    }
  }

  /** One invocation of a streaming handler: its writes go out as they happen. */
  handleStreaming(id, headers, body, scheduleNext) {
    const stream = new ResponseStream(id, this.highWaterMark);
    this.stream = stream;
    stream.done.then(() => {
      beforeExitListener = NO_OP;
      this.stream = null;
      scheduleNext();
    });
    const fail = (err) => {
      logError('Invoke Error', err);
      stream.fail(err);
    };
    this.setErrorCallbacks(id);
    // The event loop emptied before the handler ended its stream: end it for it.
    beforeExitListener = () => {
      beforeExitListener = NO_OP;
      if (!stream.writableEnded) stream.end();
    };
    try {
      const context = attachEnvironmentData({ callbackWaitsForEmptyEventLoop: true }, headers);
      const event = BINARY ? body : JSON.parse(body.toString('utf8'));
      const result = this.handler(event, stream, context);
      if (!isPromise(result)) {
        fail(new Error('Streaming does not support non-async handlers.'));
        return;
      }
      result.then((value) => {
        if (value !== undefined) console.warn('Streaming handlers ignore return values.');
      }, fail);
    } catch (err) {
      fail(err);
    }
  }

  setErrorCallbacks(id) {
    const report = (code) => (error) => {
      if (this.completed || nextInFlight) {
        // Nothing in progress to report against: just die like node would.
        process.exit(code);
      }
      this.completed = true;
      if (this.stream) {
        // A streamed response reports its error in its trailers.
        this.stream.fail(error).then(() => process.exit(code));
        return;
      }
      client.postInvocationError(error, id, () => process.exit(code));
    };
    errorCallbacks.uncaughtException = report(129);
    errorCallbacks.unhandledRejection = report(128);
  }

  /**
   * Runs when the event loop empties before the handler finished: a
   * sync/callback handler that never called back answers null; an async
   * handler whose promise never settled fails with Runtime.NodeJsExit.
   */
  setDefaultExitListener(id, markCompleted, scheduleNext) {
    beforeExitListener = () => {
      beforeExitListener = NO_OP;
      markCompleted();
      if (this.isAsync) {
        const err = new Errors.NodeJsExit();
        logError('Invoke Error', err);
        client.postInvocationError(err, id, scheduleNext);
      } else {
        client.postInvocationResponse(null, id, scheduleNext);
      }
    };
  }
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

async function main() {
  patchConsole();
  if (!RAPID) fatal('AWS_LAMBDA_RUNTIME_API is not set');

  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new Errors.UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  process.on('beforeExit', () => beforeExitListener());

  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let handler;
  try {
    handler = await loadHandler(appRoot, process.env._HANDLER || '');
  } catch (err) {
    logError('Uncaught Exception', err);
    client.postInitError(err, () => process.exit(1));
    return;
  }
  new Runtime(handler).scheduleIteration();
}

main();
