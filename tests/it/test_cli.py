"""The ferry command line: `ferry topics create|list|describe|delete` (kafka-topics' behaviour, output and
exit codes), `ferry storage random-uuid|format`, and how `ferry server` treats its configuration
(formatted cluster id, unformatted directory, bad values, unknown keys)."""
import base64
import os
import re
import socket
import unittest

import ferrytest as ft


def topics(node, *args, timeout=120):
    return ft.run_ferry(["topics"] + list(args) + ["--bootstrap-server", node.bootstrap], timeout=timeout)


def out(res):
    return res.stdout + res.stderr


class TopicsCliTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="cli-topics", overrides={"num.partitions": "2"})

    def listed(self):
        res = topics(self.n, "list")
        self.assertEqual(res.returncode, 0, res)
        return res.stdout.splitlines()

    def test_create_list_describe_delete(self):
        res = topics(self.n, "create", "--topic", "cli-a", "--partitions", "3", "--replication-factor", "1",
                     "--config", "retention.ms=1000", "--config", "cleanup.policy=compact")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("Created topic cli-a.", res.stdout)
        ft.wait_topic(self.n, "cli-a", 3)

        res = topics(self.n, "create", "--topic", "cli-a", "--partitions", "1")
        self.assertNotEqual(res.returncode, 0, "creating an existing topic must fail: %r" % res)
        self.assertRegex(out(res), r"(?i)TOPIC_ALREADY_EXISTS|already exists", res)

        # Without --partitions / --replication-factor: the broker's defaults (num.partitions=2 here).
        res = topics(self.n, "create", "--topic", "cli-b")
        self.assertEqual(res.returncode, 0, res)
        ft.wait_topic(self.n, "cli-b", 2)

        lines = self.listed()
        self.assertEqual(lines.count("cli-a"), 1, lines)
        self.assertEqual(lines.count("cli-b"), 1, lines)
        with self.n.conn() as c:
            names = {t["name"] for t in c.metadata(None)["topics"]}
        self.assertEqual(set(lines), names, "list must print exactly the topic names, one per line")

        res = topics(self.n, "describe", "--topic", "cli-a")
        self.assertEqual(res.returncode, 0, res)
        lines = [l for l in res.stdout.splitlines() if l.strip()]
        self.assertEqual(len(lines), 4, res.stdout)
        # (Kafka also prints "\tTopicId: <id>" after the name: checked in pending/test_pending.py.)
        m = re.match(r"^Topic: cli-a(?:\tTopicId: [A-Za-z0-9_-]{22})?\tPartitionCount: 3\tReplicationFactor: 1"
                     r"\tConfigs: (.*)$", lines[0])
        self.assertTrue(m, "describe header line: %r" % lines[0])
        configs = dict(kv.split("=", 1) for kv in m.group(1).split(",") if kv)
        self.assertEqual(configs.get("retention.ms"), "1000", configs)
        self.assertEqual(configs.get("cleanup.policy"), "compact", configs)
        for p in range(3):
            self.assertRegex(lines[1 + p], r"^\s+Topic: cli-a\tPartition: %d\tLeader: 1\tReplicas: 1\tIsr: 1\b" % p)

        res = topics(self.n, "describe")
        self.assertEqual(res.returncode, 0, res)
        self.assertRegex(res.stdout, r"(?m)^Topic: cli-a\t")
        self.assertRegex(res.stdout, r"(?m)^Topic: cli-b\t(?:TopicId: \S+\t)?PartitionCount: 2\t")

        res = topics(self.n, "describe", "--topic", "cli-missing")
        self.assertNotEqual(res.returncode, 0, res)
        self.assertIn("cli-missing", out(res))

        res = topics(self.n, "delete", "--topic", "cli-b")
        self.assertEqual(res.returncode, 0, res)
        ft.wait_until(lambda: "cli-b" not in self.listed(), 60, what="cli-b gone from the list")
        self.assertIn("cli-a", self.listed())

        res = topics(self.n, "delete", "--topic", "cli-b")
        self.assertNotEqual(res.returncode, 0, "deleting a missing topic must fail: %r" % res)
        self.assertIn("cli-b", out(res))

    def test_create_rejections(self):
        for args, pattern in (
                (["--topic", "cli bad name", "--partitions", "1"], r"(?i)INVALID_TOPIC|illegal|invalid"),
                (["--topic", "cli-zero", "--partitions", "0"], r"(?i)partition"),
                (["--topic", "cli-rf3", "--partitions", "1", "--replication-factor", "3"], r"(?i)replication"),
                (["--topic", "cli-badcfg", "--config", "retention.ms=soon"], r"retention\.ms"),
        ):
            res = topics(self.n, "create", *args)
            self.assertNotEqual(res.returncode, 0, res)
            self.assertRegex(out(res), pattern, res)
        lines = self.listed()
        for t in ("cli bad name", "cli-zero", "cli-rf3", "cli-badcfg"):
            self.assertNotIn(t, lines)

    def test_usage_errors(self):
        res = topics(self.n, "create")  # no --topic
        self.assertNotEqual(res.returncode, 0, res)
        res = ft.run_ferry(["topics", "list"])  # no --bootstrap-server
        self.assertNotEqual(res.returncode, 0, res)
        res = ft.run_ferry(["topics", "frobnicate", "--bootstrap-server", self.n.bootstrap])
        self.assertNotEqual(res.returncode, 0, res)
        res = ft.run_ferry(["no-such-command"])
        self.assertNotEqual(res.returncode, 0, res)
        res = ft.run_ferry(["--help"])
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("topics", res.stdout)

    def test_unreachable_bootstrap_fails(self):
        port = ft.free_port()
        res = ft.run_ferry(["topics", "list", "--bootstrap-server", "127.0.0.1:%d" % port], timeout=300)
        self.assertNotEqual(res.returncode, 0, res)


class StorageCliTest(ft.FerryTestCase):
    def test_random_uuid(self):
        seen = set()
        for _ in range(20):
            res = ft.run_ferry(["storage", "random-uuid"])
            self.assertEqual(res.returncode, 0, res)
            u = res.stdout.strip()
            self.assertRegex(u, r"^[A-Za-z0-9_-]{22}$")
            self.assertFalse(u.startswith("-"), "Kafka never hands out ids starting with '-': %s" % u)
            raw = base64.urlsafe_b64decode(u + "==")
            self.assertEqual(len(raw), 16)
            self.assertNotIn(raw, (b"\x00" * 16, b"\x00" * 15 + b"\x01"), "reserved uuid")
            seen.add(u)
        self.assertEqual(len(seen), 20, "random-uuid repeats itself")

    def test_format_then_start_uses_cluster_id(self):
        n = self.node(name="cli-format", mode="config", auto_format=False)
        cid = ft.run_ferry(["storage", "random-uuid"]).stdout.strip()
        res = n.format(cid)
        self.assertEqual(res.returncode, 0, res)
        meta = os.path.join(n.data_dir, "meta.properties")
        self.assertTrue(os.path.exists(meta), "format did not write %s" % meta)
        with open(meta) as f:
            props = dict(l.split("=", 1) for l in f.read().splitlines() if "=" in l and not l.startswith("#"))
        self.assertEqual(props.get("cluster.id"), cid, props)
        self.assertEqual(props.get("node.id"), "1", props)
        self.assertEqual(props.get("version"), "1", props)

        n.start()
        with n.conn() as c:
            md = c.metadata([], version=2)
        self.assertEqual(md["cluster_id"], cid)
        self.assertEqual(ft.admin(n).list_topics(timeout=30).cluster_id, cid)
        self.assertEqual(n.stop(), 0)

        # Formatting again is refused and changes nothing.
        other = ft.run_ferry(["storage", "random-uuid"]).stdout.strip()
        res = ft.run_ferry(["storage", "format", "--config", n.config_path, "--cluster-id", other])
        self.assertNotEqual(res.returncode, 0, "formatting a formatted directory must fail: %r" % res)
        with open(meta) as f:
            self.assertIn("cluster.id=%s" % cid, f.read())
        n.start()
        with n.conn() as c:
            self.assertEqual(c.metadata([], version=2)["cluster_id"], cid)

    def test_format_rejects_bad_cluster_id(self):
        n = self.node(name="cli-badcid", mode="config", auto_format=False)
        ft.write_yaml_config(n.config_path, n.config)
        for bad in ("not-a-uuid", "", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAA"):
            res = ft.run_ferry(["storage", "format", "--config", n.config_path, "--cluster-id", bad])
            self.assertNotEqual(res.returncode, 0, "cluster id %r accepted: %r" % (bad, res))
        self.assertFalse(os.path.exists(os.path.join(n.data_dir, "meta.properties")))
        res = ft.run_ferry(["storage", "format", "--config", n.config_path])  # no --cluster-id
        self.assertNotEqual(res.returncode, 0, res)

    def test_unformatted_directory_refuses_to_start(self):
        n = self.node(name="cli-unformatted", mode="config", auto_format=False)
        n.spawn()
        rc = n.wait_exit(120)
        self.assertIsNotNone(rc, "ferry server kept running on an unformatted log directory")
        self.assertNotEqual(rc, 0)
        text = n.log_text()
        self.assertRegex(text, r"(?i)format", "the refusal should tell the operator to format:\n%s" % text[-2000:])
        self.assertIn(n.data_dir, text, "the refusal should name the directory:\n%s" % text[-2000:])
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", n.port)), 0, "client port open")
        self.assertIsNone(n.sanitizer_report())

    def assertStartRefused(self, overrides, key, value, mode="set"):
        n = self.node(name="cli-badcfg", overrides=overrides, mode=mode, auto_format=False)
        n.spawn()
        rc = n.wait_exit(120)
        self.assertIsNotNone(rc, "ferry server started with %s=%s" % (key, value))
        self.assertNotEqual(rc, 0)
        lines = [l for l in n.log_text().splitlines() if key in l and value in l]
        self.assertTrue(lines, "no log line names %s and %r:\n%s" % (key, value, n.log_tail(30)))
        self.assertIsNone(n.sanitizer_report())

    def test_bad_config_values_stop_startup(self):
        self.assertStartRefused({"num.partitions": "abc"}, "num.partitions", "abc")
        self.assertStartRefused({"num.partitions": "-5"}, "num.partitions", "-5")
        self.assertStartRefused({"log.segment.bytes": "12kb"}, "log.segment.bytes", "12kb")
        self.assertStartRefused({"auto.create.topics.enable": "perhaps"}, "auto.create.topics.enable", "perhaps")
        self.assertStartRefused({"process.roles": "broker,janitor"}, "process.roles", "janitor")

    def test_bad_config_file_value_stops_startup(self):
        n = self.node(name="cli-badyaml", mode="config", overrides={"num.partitions": "lots"}, auto_format=False)
        ft.write_yaml_config(n.config_path, n.config)
        res = ft.run_ferry(["storage", "format", "--config", n.config_path, "--cluster-id",
                            ft.run_ferry(["storage", "random-uuid"]).stdout.strip()])
        if res.returncode != 0:
            self.assertRegex(out(res), r"num\.partitions", res)
            return
        n.spawn()
        rc = n.wait_exit(120)
        self.assertIsNotNone(rc, "ferry server started with num.partitions: lots")
        self.assertNotEqual(rc, 0)
        self.assertTrue([l for l in n.log_text().splitlines() if "num.partitions" in l and "lots" in l],
                        n.log_tail(30))

    def test_bad_command_line(self):
        for args in (["server", "--set", "no-equals-sign"], ["server", "--config"],
                     ["server", "--config", "/nonexistent/ferry.yaml"], ["server", "--bogus-flag"]):
            res = ft.run_ferry(args, timeout=60)
            self.assertNotEqual(res.returncode, 0, res)

    def test_unknown_key_only_warned(self):
        n = self.node(name="cli-unknown", overrides={"ferry.no.such.key": "42"})
        n.start()
        lines = [l for l in n.log_text().splitlines() if "ferry.no.such.key" in l]
        self.assertTrue(lines, "the unknown key is not mentioned:\n%s" % n.log_tail(30))
        self.assertTrue(any("WARN" in l.upper() for l in lines), lines)
        ft.create_topic(n, "cli-unknown-ok", partitions=1)

    def test_migration_mode_refused_before_any_directory(self):
        """A migration-mode controller (examples/migration-controller.yaml's shape) is refused, naming the mode,
        before its log directory is created (it used to be created and locked first)."""
        n = self.node(name="cli-migration", auto_format=False, overrides={
            "process.roles": "controller", "zookeeper.metadata.migration.enable": "true",
            "zookeeper.connect": "127.0.0.1:1"})
        n.config["listeners"] = "CONTROLLER://127.0.0.1:%d" % n.controller_port
        n.spawn()
        rc = n.wait_exit(120)
        self.assertIsNotNone(rc, "ferry server kept running in migration mode")
        self.assertNotEqual(rc, 0)
        self.assertTrue([l for l in n.log_text().splitlines() if "migration mode" in l], n.log_tail(20))
        self.assertFalse(os.path.exists(n.data_dir), "the refused node created %s" % n.data_dir)
        self.assertIsNone(n.sanitizer_report())


class StartupPortInUseTest(ft.FerryTestCase):
    def test_listener_port_in_use(self):
        """A listener port taken by another process: the server exits non-zero naming the address, with no
        sanitizer report."""
        n = self.node(name="port-in-use")
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", n.port))
        holder.listen()
        self.addCleanup(holder.close)
        n.spawn()
        rc = n.wait_exit(120)
        self.assertIsNotNone(rc, "ferry server kept running without its client listener")
        self.assertNotEqual(rc, 0)
        self.assertIsNone(n.sanitizer_report(), "sanitizer report when the port is in use")
        self.assertTrue([l for l in n.log_text().splitlines() if str(n.port) in l and "in use" in l.lower()],
                        n.log_tail(20))


if __name__ == "__main__":
    ft.main()
