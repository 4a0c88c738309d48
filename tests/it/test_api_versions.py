"""ApiVersions v0..v3 over a raw socket (v3: request header v2, response header v0, flexible body with
empty tag buffers); the advertised table against Kafka 3.7's; what kafka-python and librdkafka infer."""
import unittest

import ferrytest as ft

# Kafka 3.7 request APIs: key -> (name, max version). Every one of them has min version 0 in 3.7.
KAFKA_37 = {
    0: ("Produce", 10), 1: ("Fetch", 16), 2: ("ListOffsets", 8), 3: ("Metadata", 12), 4: ("LeaderAndIsr", 7),
    5: ("StopReplica", 4), 6: ("UpdateMetadata", 8), 7: ("ControlledShutdown", 3), 8: ("OffsetCommit", 9),
    9: ("OffsetFetch", 9), 10: ("FindCoordinator", 4), 11: ("JoinGroup", 9), 12: ("Heartbeat", 4),
    13: ("LeaveGroup", 5), 14: ("SyncGroup", 5), 15: ("DescribeGroups", 5), 16: ("ListGroups", 4),
    17: ("SaslHandshake", 1), 18: ("ApiVersions", 3), 19: ("CreateTopics", 7), 20: ("DeleteTopics", 6),
    21: ("DeleteRecords", 2), 22: ("InitProducerId", 4), 23: ("OffsetForLeaderEpoch", 4),
    24: ("AddPartitionsToTxn", 4), 25: ("AddOffsetsToTxn", 3), 26: ("EndTxn", 3), 27: ("WriteTxnMarkers", 1),
    28: ("TxnOffsetCommit", 3), 29: ("DescribeAcls", 3), 30: ("CreateAcls", 3), 31: ("DeleteAcls", 3),
    32: ("DescribeConfigs", 4), 33: ("AlterConfigs", 2), 34: ("AlterReplicaLogDirs", 2),
    35: ("DescribeLogDirs", 4), 36: ("SaslAuthenticate", 2), 37: ("CreatePartitions", 3),
    38: ("CreateDelegationToken", 3), 39: ("RenewDelegationToken", 2), 40: ("ExpireDelegationToken", 2),
    41: ("DescribeDelegationToken", 3), 42: ("DeleteGroups", 2), 43: ("ElectLeaders", 2),
    44: ("IncrementalAlterConfigs", 1), 45: ("AlterPartitionReassignments", 0),
    46: ("ListPartitionReassignments", 0), 47: ("OffsetDelete", 0), 48: ("DescribeClientQuotas", 1),
    49: ("AlterClientQuotas", 1), 50: ("DescribeUserScramCredentials", 0), 51: ("AlterUserScramCredentials", 0),
    52: ("Vote", 0), 53: ("BeginQuorumEpoch", 0), 54: ("EndQuorumEpoch", 0), 55: ("DescribeQuorum", 1),
    56: ("AlterPartition", 3), 57: ("UpdateFeatures", 1), 58: ("Envelope", 0), 59: ("FetchSnapshot", 0),
    60: ("DescribeCluster", 1), 61: ("DescribeProducers", 0), 62: ("BrokerRegistration", 3),
    63: ("BrokerHeartbeat", 1), 64: ("UnregisterBroker", 0), 65: ("DescribeTransactions", 0),
    66: ("ListTransactions", 0), 67: ("AllocateProducerIds", 0), 68: ("ConsumerGroupHeartbeat", 0),
    69: ("ConsumerGroupDescribe", 0), 70: ("ControllerRegistration", 0), 71: ("GetTelemetrySubscriptions", 0),
    72: ("PushTelemetry", 0), 73: ("AssignReplicasToDirs", 0), 74: ("ListClientMetricsResources", 0),
}

# What the Debian clients need from a broker: key -> the lowest acceptable advertised max.
REQUIRED = {0: 7, 1: 11, 2: 1, 3: 4, 18: 3, 19: 3, 20: 1, 32: 1, 33: 0, 37: 0}


# librdkafka features a broker must enable (LZ4 and BrokerGroupCoordinator need FindCoordinator v0).
FEATURES = ("MsgVer2", "ApiVersion", "ThrottleTime", "ZSTD", "OffsetTime", "LZ4", "BrokerGroupCoordinator")


class ApiVersionsTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="api-versions")

    def fetch_versions(self, version):
        with self.n.conn() as c:
            corr = c.send(ft.API_API_VERSIONS, version, ft.enc_api_versions(version))
            got, body = c.recv()  # response header v0 for every version: the correlation id only
            self.assertEqual(got, corr)
            return body, ft.dec_api_versions(version, body)

    def test_all_versions_answer_the_same_table(self):
        tables = {}
        for v in range(4):
            body, d = self.fetch_versions(v)
            self.assertEqual(d["error"], 0, "ApiVersions v%d" % v)
            self.assertEqual(d["throttle"], 0)
            keys = [e[0] for e in d["entries"]]
            self.assertEqual(len(keys), len(set(keys)), "duplicate api keys in v%d: %s" % (v, keys))
            tables[v] = d["apis"]
        for v in range(1, 4):
            self.assertEqual(tables[v], tables[0], "v%d and v0 advertise different tables" % v)

    def test_v3_is_flexible_with_header_v0(self):
        body, d = self.fetch_versions(3)
        # error_code int16 first: a response header v1 would put a tag byte before it.
        self.assertEqual(body[:2], b"\x00\x00")
        n = len(d["entries"])
        # compact array length = n + 1, each entry 7 bytes (key, min, max, empty tag buffer), throttle, tags.
        w = ft.W()
        w.uvarint(n + 1)
        self.assertEqual(body[2:2 + len(w.getvalue())], w.getvalue())
        self.assertEqual(len(body), 2 + len(w.getvalue()) + 7 * n + 4 + 1, "unexpected bytes in the v3 body")
        self.assertEqual(d["tags"], [], "top-level tag buffer must be empty (librdkafka < 2.2 misparses tags)")
        for e in d["entries"]:
            self.assertEqual(e[3], [], "entry %r has tagged fields" % (e,))

    def test_v3_request_without_software_name(self):
        # Empty compact strings are legal client software fields.
        with self.n.conn() as c:
            d = ft.dec_api_versions(3, c.request(ft.API_API_VERSIONS, 3, ft.enc_api_versions(3, ("", ""))))
        self.assertIn(d["error"], (0, ft.E_INVALID_REQUEST))

    def test_table_matches_kafka_37(self):
        _, d = self.fetch_versions(0)
        apis = d["apis"]
        for key, (lo, hi) in apis.items():
            self.assertIn(key, KAFKA_37, "api key %d does not exist in Kafka 3.7" % key)
            name, kmax = KAFKA_37[key]
            self.assertEqual(lo, 0, "%s min version %d: Kafka 3.7 has 0 (librdkafka disables features on a "
                                    "higher min)" % (name, lo))
            self.assertLessEqual(lo, hi, name)
            self.assertLessEqual(hi, kmax, "%s max version %d is beyond Kafka 3.7's %d" % (name, hi, kmax))
        for key, need in REQUIRED.items():
            self.assertIn(key, apis, "%s is not advertised" % KAFKA_37[key][0])
            self.assertGreaterEqual(apis[key][1], need, "%s max version %d < %d" % (KAFKA_37[key][0], apis[key][1], need))
        # Broker-to-controller and inter-broker APIs never appear on the client listener.
        for key in (4, 5, 6, 52, 53, 54, 56, 58, 59, 62, 63, 67, 70, 73):
            self.assertNotIn(key, apis, "%s advertised on the client listener" % KAFKA_37[key][0])

    def test_each_advertised_version_is_served(self):
        """Every advertised Metadata and ApiVersions version parses back (the request APIs whose bodies we
        can build here)."""
        _, d = self.fetch_versions(0)
        lo, hi = d["apis"][ft.API_METADATA]
        with self.n.conn() as c:
            for v in range(lo, min(hi, 8) + 1):
                if ft.is_flexible(ft.API_METADATA, v):
                    break
                md = c.metadata(None if v >= 1 else [], version=v)
                self.assertEqual([b["node_id"] for b in md["brokers"]], [1], "Metadata v%d" % v)
                self.assertEqual(md["brokers"][0]["port"], self.n.port)
                self.assertEqual(md["brokers"][0]["host"], "127.0.0.1")
                if v >= 1:
                    self.assertEqual(md["controller_id"], 1, "Metadata v%d controller" % v)

    def test_kafka_python_infers_a_recent_broker(self):
        from kafka import KafkaClient, KafkaConsumer
        # The default probe timeout (2 s) is part of what kafka-python expects of a broker.
        client = KafkaClient(bootstrap_servers=self.n.bootstrap, client_id="ferry-it-probe")
        try:
            v = client.check_version(timeout=10)
        finally:
            client.close()
        self.assertGreaterEqual(v, (2, 3), "kafka-python inferred broker version %s" % (v,))
        c = KafkaConsumer(bootstrap_servers=self.n.bootstrap, group_id=None)
        try:
            self.assertGreaterEqual(c.config["api_version"], (2, 3))
        finally:
            c.close()

    def test_librdkafka_negotiates(self):
        """librdkafka's handshake (ApiVersions v3) succeeds: no fallback to broker.version.fallback."""
        from confluent_kafka.admin import AdminClient
        logs = []
        import logging

        class H(logging.Handler):
            def emit(self, rec):
                logs.append(rec.getMessage())
        lg = logging.getLogger("ferry-it-rdkafka")
        lg.addHandler(H())
        lg.setLevel(logging.DEBUG)
        a = AdminClient({"bootstrap.servers": self.n.bootstrap, "debug": "protocol,feature", "logger": lg})
        md = a.list_topics(timeout=30)
        self.assertEqual(set(md.brokers), {1})
        a.poll(0.5)
        text = "\n".join(logs)
        import re
        m = re.search(r".*ApiVersionRequest v\d+ failed.*", text)
        self.assertIsNone(m, "librdkafka had to retry ApiVersions: %s" % (m.group(0) if m else ""))
        self.assertFalse("broker.version.fallback" in text, "librdkafka fell back to broker.version.fallback")
        enabled = set(re.findall(r"Enabling feature (\w+)", text))
        disabled = set(re.findall(r"Disabling feature (\w+)", text))
        for f in FEATURES:
            self.assertIn(f, enabled, "librdkafka did not enable %s (disabled: %s)" % (f, sorted(disabled)))

if __name__ == "__main__":
    ft.main()
