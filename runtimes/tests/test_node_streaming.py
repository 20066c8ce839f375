"""Response streaming in the Node bootstrap (runtimes/node/bootstrap.js):
``awslambda.streamifyResponse`` and ``awslambda.HttpResponseStream``, against the fake
Runtime API, which records the chunks of a streamed POST as they arrive and its trailers.

    python3 -m unittest discover -s runtimes/tests
"""

import base64
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import test_bootstraps as tb  # noqa: E402

NODE_BOOTSTRAP = None
RUNTIME_DIR = None


def setUpModule():
    global RUNTIME_DIR, NODE_BOOTSTRAP
    RUNTIME_DIR = tempfile.mkdtemp(prefix="lambdalet-runtimes-")
    _, NODE_BOOTSTRAP = tb.copy_runtimes(RUNTIME_DIR)


def tearDownModule():
    shutil.rmtree(RUNTIME_DIR, True)


STREAM_APP = r"""
const { pipeline } = require('stream/promises');
const { Readable } = require('stream');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

exports.slow = awslambda.streamifyResponse(async (event, responseStream, context) => {
  console.log('streaming for ' + context.awsRequestId);
  for (let i = 0; i < event.parts; i++) {
    responseStream.write('part' + i + ';');
    await sleep(event.gap);
  }
  responseStream.end();
});

exports.typed = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/plain; charset=utf-8');
  responseStream.write('typed');
  let late = null;
  try {
    responseStream.setContentType('text/html');
  } catch (e) {
    late = e.message;
  }
  responseStream.end(' ' + late);
});

exports.http = awslambda.streamifyResponse(async (event, responseStream) => {
  const s = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'x-custom': 'yes' },
    cookies: ['a=1'],
  });
  if (event.body) s.write(event.body);
  s.end();
});

exports.fails = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('partial;');
  await sleep(50);
  throw new TypeError('went wrong mid-stream');
});

exports.notAsync = awslambda.streamifyResponse((event, responseStream) => {
  responseStream.write('sync;');
});

exports.uncaught = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('before;');
  setTimeout(() => {
    throw new RangeError('thrown from a timer');
  }, 20);
  await sleep(5000);
});

exports.piped = awslambda.streamifyResponse(async (event, responseStream) => {
  await pipeline(Readable.from(['x', 'y', 'z']), responseStream);
});

exports.destroyed = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('some;');
  responseStream.destroy(new Error('destroyed on purpose'));
});

exports.marked = async () => 'buffered';
exports.marked2 = awslambda.streamifyResponse(async (e, s) => s.end());
exports.symbols = async () => ({
  marked: exports.marked2[Symbol.for('aws.lambda.runtime.handler.streaming')] || null,
  plain: exports.marked[Symbol.for('aws.lambda.runtime.handler.streaming')] || null,
  hwm: awslambda.streamifyResponse(async () => {}, { highWaterMark: 1234 })[
    Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark')],
});
"""


def trailer_error(rec):
    """(type, decoded body) of the error trailers of a streamed response."""
    t = rec["trailers"]
    body = json.loads(base64.b64decode(t["lambda-runtime-function-error-body"]))
    return t["lambda-runtime-function-error-type"], body


@unittest.skipUnless(tb.NODE, "node not found")
class NodeStreamingTests(unittest.TestCase):
    def start(self, handler):
        return tb.Runtime(self, "node", {"index.js": STREAM_APP}, handler, bootstrap=NODE_BOOTSTRAP)

    def test_chunks_go_out_as_they_are_written(self):
        rt = self.start("index.slow")
        rec = rt.invoke({"parts": 4, "gap": 300})
        self.assertEqual(rec["kind"], "response", rt.log.snapshot())
        h = rec["headers"]
        self.assertEqual(h["lambda-runtime-function-response-mode"], "streaming")
        self.assertEqual(h["transfer-encoding"], "chunked")
        self.assertEqual(h["content-type"], "application/octet-stream")
        self.assertIn("Lambda-Runtime-Function-Error-Type", h["trailer"])
        self.assertEqual(rec["body"], b"part0;part1;part2;part3;")
        self.assertEqual(rec["trailers"], {})
        # Not buffered: the first part arrived long before the last.
        data = [(t, c) for t, c in rec["chunks"] if c]
        self.assertEqual(data[0][1], b"part0;")
        self.assertGreater(data[-1][0] - data[0][0], 0.6, rec["chunks"])
        # The handler's log line was flushed before the stream ended.
        self.assertIn("\tINFO\tstreaming for " + rec["request_id"], rec["log_at_arrival"])
        # The runtime goes on to the next invocation.
        rec = rt.invoke({"parts": 1, "gap": 0})
        self.assertEqual(rec["body"], b"part0;")

    def test_content_type_is_set_before_the_first_write_only(self):
        rt = self.start("index.typed")
        rec = rt.invoke({})
        self.assertEqual(rec["headers"]["content-type"], "text/plain; charset=utf-8")
        self.assertEqual(rec["body"], b"typed Cannot set content-type, too late.")

    def test_http_response_stream_writes_the_prelude_first(self):
        rt = self.start("index.http")
        rec = rt.invoke({"body": "<h1>hi</h1>"})
        self.assertEqual(rec["headers"]["content-type"], "application/vnd.awslambda.http-integration-response")
        prelude, sep, body = rec["body"].partition(b"\0" * 8)
        self.assertEqual(sep, b"\0" * 8)
        self.assertEqual(json.loads(prelude), {"statusCode": 201, "headers": {"x-custom": "yes"}, "cookies": ["a=1"]})
        self.assertEqual(body, b"<h1>hi</h1>")
        # No body at all: the prelude still goes out.
        rec = rt.invoke({})
        self.assertTrue(rec["body"].endswith(b"\0" * 8), rec["body"])

    def test_an_error_mid_stream_goes_in_the_trailers(self):
        rt = self.start("index.fails")
        rec = rt.invoke({})
        self.assertEqual(rec["kind"], "response")
        self.assertEqual(rec["body"], b"partial;")
        error_type, body = trailer_error(rec)
        self.assertEqual(error_type, "TypeError")
        self.assertEqual(body["errorType"], "TypeError")
        self.assertEqual(body["errorMessage"], "went wrong mid-stream")
        self.assertIsInstance(body["trace"], list)
        self.assertIn("\tERROR\tInvoke Error", rec["log_at_arrival"])
        # Still alive for the next event.
        rec = rt.invoke({})
        self.assertEqual(trailer_error(rec)[0], "TypeError")

    def test_a_handler_that_is_not_async_is_refused(self):
        rt = self.start("index.notAsync")
        rec = rt.invoke({})
        error_type, body = trailer_error(rec)
        self.assertEqual(error_type, "Error")
        self.assertEqual(body["errorMessage"], "Streaming does not support non-async handlers.")

    def test_an_uncaught_exception_ends_the_stream_and_the_runtime(self):
        rt = self.start("index.uncaught")
        rec = rt.invoke({})
        self.assertEqual(rec["body"], b"before;")
        error_type, body = trailer_error(rec)
        self.assertEqual(error_type, "RangeError")
        self.assertEqual(body["errorMessage"], "thrown from a timer")
        self.assertEqual(rt.wait_exit(), 129)

    def test_pipeline_and_destroy(self):
        rt = self.start("index.piped")
        rec = rt.invoke({})
        self.assertEqual(rec["body"], b"xyz")
        self.assertEqual(rec["trailers"], {})
        rt = self.start("index.destroyed")
        rec = rt.invoke({})
        self.assertEqual(rec["body"], b"some;")
        self.assertEqual(trailer_error(rec)[1]["errorMessage"], "destroyed on purpose")

    def test_the_streaming_marks(self):
        rt = self.start("index.symbols")
        self.assertEqual(rt.invoke_json({}), {"marked": "response", "plain": None, "hwm": 1234})
        # A handler without the mark answers buffered, as before.
        rt = self.start("index.marked")
        rec = rt.invoke({})
        self.assertNotIn("lambda-runtime-function-response-mode", rec["headers"])
        self.assertEqual(rec["body"], b'"buffered"')


if __name__ == "__main__":
    unittest.main()
