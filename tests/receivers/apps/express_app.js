// The seed's example webhook written for Node's Express with express.json()
// (node express_app.js HOST PORT [MODULE]; MODULE names the installed Express, "express" by default).
// The handler is the seed's, line for line; the verify hook and record() are the test suite's:
// verify is express.json()'s documented way to see the raw bytes, it changes nothing it parses.
"use strict";
const fs = require("fs");
const express = require(process.argv[4] || "express");

function record(req) {
  const target = process.env.RECEIVER_RECORD;
  if (!target) return;
  const line = JSON.stringify({
    path: req.path, host: req.get("host") || null, content_type: req.get("content-type") || null,
    authorization: req.get("authorization") || null, body: (req.rawBody || Buffer.alloc(0)).toString("base64"),
  });
  fs.appendFileSync(target, line + "\n");
}

const app = express();
app.use(express.json({ verify: (req, res, buf) => { req.rawBody = buf; } }));

app.post("/listen", (req, res) => {
  record(req);
  const glusterEvent = req.body;
  if (glusterEvent == null) {
    // No event to process, may be test call
    res.send("OK");
    return;
  }
  console.log(glusterEvent);
  res.send("OK");
});

app.listen(Number(process.argv[3]), process.argv[2]);
