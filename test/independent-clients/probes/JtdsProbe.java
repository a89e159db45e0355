import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * jTDS (the Debian libjtds-java 1.3.1 driver) against the emulated Managed Instance: reports what it sees as JSON.
 * Usage: JtdsProbe <ca.pem> <server> <port> <user> <password> <unused> <seed…> --errors <name=sql>…
 *        JtdsProbe --untrusted <other-ca.pem> <server> <port> <user> <password>
 * The host name resolves to the emulator through -Djdk.net.hosts.file. jTDS's ssl=authenticate validates the chain
 * against the default SSLContext, which this program points at the emulator's CA.
 */
public class JtdsProbe {
  static final StringBuilder out = new StringBuilder();

  static SSLContext trusting(String caFile) throws Exception {
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    try (InputStream in = Files.newInputStream(Paths.get(caFile))) {
      ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  static String q(Object o) {
    if (o == null) return "null";
    if (o instanceof Number) return o.toString();
    String s = o.toString().replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t");
    return "\"" + s + "\"";
  }

  static String query(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
      ResultSetMetaData m = r.getMetaData();
      List<String> cols = new ArrayList<>();
      for (int i = 1; i <= m.getColumnCount(); i++) cols.add("[" + q(m.getColumnName(i)) + "," + q(m.getColumnTypeName(i)) + "]");
      List<String> rows = new ArrayList<>();
      while (r.next()) {
        List<String> vals = new ArrayList<>();
        for (int i = 1; i <= m.getColumnCount(); i++) {
          Object v = r.getObject(i);
          vals.add(v instanceof Number || v == null ? q(v) : q(r.getString(i)));
        }
        rows.add("[" + String.join(",", vals) + "]");
      }
      return "{\"columns\":[" + String.join(",", cols) + "],\"rows\":[" + String.join(",", rows) + "]}";
    }
  }

  static Object errorOf(Connection c, String sql) {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
      return null;
    } catch (SQLException e) {
      return e.getErrorCode();
    }
  }

  public static void main(String[] a) throws Exception {
    // SSLSocketFactory.getDefault() is fixed once per JVM, so the untrusted-CA check runs in a JVM of its own.
    if (a[0].equals("--untrusted")) {
      SSLContext.setDefault(trusting(a[1]));
      Class.forName("net.sourceforge.jtds.jdbc.Driver");
      try {
        DriverManager.getConnection("jdbc:jtds:sqlserver://" + a[2] + ":" + a[3] + "/master;ssl=authenticate;loginTimeout=10", a[4], a[5]).close();
        System.out.println("{\"untrusted\":\"connected\"}");
      } catch (SQLException e) {
        System.out.println("{\"untrusted\":\"refused\"}");
      }
      return;
    }
    String ca = a[0], server = a[1], port = a[2], user = a[3], password = a[4];
    List<String> seed = new ArrayList<>();
    Map<String, String> errors = new LinkedHashMap<>();
    int i = 6;
    for (; i < a.length && !a[i].equals("--errors"); i++) seed.add(a[i]);
    for (i++; i < a.length; i++) errors.put(a[i].substring(0, a[i].indexOf('=')), a[i].substring(a[i].indexOf('=') + 1));
    Class.forName("net.sourceforge.jtds.jdbc.Driver");
    String url = "jdbc:jtds:sqlserver://" + server + ":" + port + "/master;ssl=authenticate;loginTimeout=10";
    SSLContext.setDefault(trusting(ca));
    out.append("{\"client\":\"jtds\"");
    try (Connection c = DriverManager.getConnection(url, user, password)) {
      out.append(",\"versions\":{\"7.1\":").append(query(c, "SELECT @@SERVERNAME AS s, SERVERPROPERTY('EngineEdition') AS ee, CAST(SERVERPROPERTY('EngineEdition') AS int) AS ee_int, SYSUTCDATETIME() AS now2, @@SPID AS spid")).append("}");
      out.append(",\"catalog\":{");
      String[] views = {"sys.server_audits", "sys.server_file_audits", "sys.server_audit_specifications", "sys.server_audit_specification_details", "sys.dm_server_audit_status"};
      for (int v = 0; v < views.length; v++) {
        String cols = query(c, "SELECT TOP 0 * FROM " + views[v]);
        out.append(v > 0 ? "," : "").append(q(views[v])).append(":").append(cols, cols.indexOf('[') , cols.indexOf("],\"rows\"") + 1);
      }
      out.append("}");
      String fa = query(c, "SELECT name, log_file_path FROM sys.server_file_audits");
      out.append(",\"file_audits\":").append(fa, fa.indexOf("\"rows\":") + 7, fa.length() - 1);
      List<String> seedErrors = new ArrayList<>();
      for (String s : seed) seedErrors.add(q(errorOf(c, s)));
      out.append(",\"seed_errors\":[").append(String.join(",", seedErrors)).append("]");
      String st = query(c, "SELECT a.name, a.type_desc, a.is_state_enabled, s.status_desc FROM sys.server_audits AS a JOIN sys.dm_server_audit_status AS s ON s.audit_id = a.audit_id WHERE a.name = 'BackupRestoreAudit'");
      out.append(",\"seed_state\":").append(st, st.indexOf("\"rows\":") + 7, st.length() - 1);
      String gr = query(c, "SELECT d.audit_action_name FROM sys.server_audit_specification_details AS d JOIN sys.server_audit_specifications AS sp ON sp.server_specification_id = d.server_specification_id WHERE sp.name = 'BackupRestoreAuditSpec' AND sp.is_state_enabled = 1 ORDER BY d.audit_action_name");
      out.append(",\"seed_groups\":").append(gr, gr.indexOf("\"rows\":") + 7, gr.length() - 1);
      out.append(",\"documented_errors\":{");
      int k = 0;
      for (Map.Entry<String, String> e : errors.entrySet()) out.append(k++ > 0 ? "," : "").append(q(e.getKey())).append(":").append(q(errorOf(c, e.getValue())));
      out.append("}");
      out.append(",\"backup\":").append(q(errorOf(c, "BACKUP DATABASE sales TO URL = 'https://acct.blob.core.windows.net/backups/sales.bak' WITH COPY_ONLY")));
      String db = query(c, "USE sales; SELECT DB_NAME() AS db");
      out.append(",\"database_param\":").append(db, db.indexOf("\"rows\":") + 7, db.length() - 1);
    }
    try {
      DriverManager.getConnection(url, user, "wrong-" + password).close();
      out.append(",\"wrong_password\":null");
    } catch (SQLException e) {
      out.append(",\"wrong_password\":").append(e.getErrorCode());
    }
    out.append("}");
    System.out.println(out);
  }
}
