// JejakTestNode starts N real Elasticsearch 8 nodes inside one JVM for
// jejak's integration tests, bound to 127.0.0.1 only.
//
// Why not org.codelibs:elasticsearch-cluster-runner: its 8.x releases are not
// on Maven Central (the artifact's metadata there stops at 7.10.2.0). Elastic
// itself publishes the 8.x server jar, the transport-netty4 plugin (the HTTP
// layer) and, in its test framework, a PluginsService that loads plugins from
// the classpath. This class wires those together the way the test
// framework's MockNode does, but without ESTestCase, whose static set-up
// refuses to run as root and needs a randomized-testing context. What runs is
// the same server code as a distribution, minus x-pack (no security: no auth).
//
// It lives in org.elasticsearch.node because Node's NodeConstruction hooks are
// package-private; it must be compiled onto the class path (javac -d), not run
// through the single-file source launcher, whose class loader would make it a
// different runtime package.
//
//   java -cp 'CLASSES:LIB/*' org.elasticsearch.node.JejakTestNode \
//        -basePath DIR -numOfNode N -baseHttpPort P -clusterName NAME
//
// Node i (1-based) serves HTTP on P+i and its transport on P+100+i.
package org.elasticsearch.node;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.MockPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;
import org.elasticsearch.transport.netty4.Netty4Plugin;

public class JejakTestNode extends Node {

    JejakTestNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(env, null, new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment e, PluginsLoader loader) {
                return new MockPluginsService(e.settings(), e, plugins);
            }
        }, true));
    }

    public static void main(String[] args) throws Exception {
        String basePath = null;
        String clusterName = "jejak-test";
        int numOfNode = 1;
        int baseHttpPort = 9200;
        for (int i = 0; i < args.length; i += 2) {
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("option " + args[i] + " needs a value");
            }
            switch (args[i]) {
                case "-basePath" -> basePath = args[i + 1];
                case "-numOfNode" -> numOfNode = Integer.parseInt(args[i + 1]);
                case "-baseHttpPort" -> baseHttpPort = Integer.parseInt(args[i + 1]);
                case "-clusterName" -> clusterName = args[i + 1];
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (basePath == null) {
            throw new IllegalArgumentException("-basePath is required");
        }
        // Elasticsearch's own bootstrap sets up logging before anything else
        // touches a logger; without it the logging SPI has no provider.
        LogConfigurator.loadLog4jPlugins();
        LogConfigurator.configureESLogging();
        LogConfigurator.configureWithoutConfig(Settings.EMPTY);
        List<String> names = new ArrayList<>();
        List<String> seeds = new ArrayList<>();
        for (int i = 1; i <= numOfNode; i++) {
            names.add("node-" + i);
            seeds.add("127.0.0.1:" + (baseHttpPort + 100 + i));
        }
        List<Node> nodes = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            synchronized (nodes) {
                for (Node n : nodes) {
                    try {
                        n.close();
                    } catch (Exception e) {
                        System.err.println("jejak-test-node: close: " + e);
                    }
                }
            }
            done.countDown();
        }));
        for (int i = 1; i <= numOfNode; i++) {
            Path home = Path.of(basePath, "node-" + i).toAbsolutePath();
            Files.createDirectories(home.resolve("config"));
            Files.createDirectories(home.resolve("data"));
            Files.createDirectories(home.resolve("logs"));
            Settings.Builder s = Settings.builder()
                .put("cluster.name", clusterName)
                .put("node.name", "node-" + i)
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                // Loopback only: bind and publish on 127.0.0.1, no other interface.
                .put("network.host", "127.0.0.1")
                .put("http.port", baseHttpPort + i)
                .put("transport.port", baseHttpPort + 100 + i)
                // A test machine's disk may be fuller than production watermarks allow.
                .put("cluster.routing.allocation.disk.threshold_enabled", false);
            if (numOfNode == 1) {
                s.put("discovery.type", "single-node");
            } else {
                s.putList("discovery.seed_hosts", seeds);
                s.putList("cluster.initial_master_nodes", names);
            }
            Environment env = InternalSettingsPreparer.prepareEnvironment(
                s.build(), Map.of(), home.resolve("config"), () -> "node");
            Node node = new JejakTestNode(env, List.of(Netty4Plugin.class));
            synchronized (nodes) {
                nodes.add(node);
            }
            node.start();
            System.out.println("jejak-test-node: node-" + i + " http://127.0.0.1:" + (baseHttpPort + i));
        }
        done.await();
    }
}
