// c8y-mtls tests: the JDK's verdict on device chains, the closest model of the platform's (a Java
// service) that runs here. Compiled and run by tests/test_chain_validator.cpp.
//
//   java PkixVerdict CASES.tsv
//
// Each line of CASES.tsv: name, validation time (seconds since the epoch), the uploaded
// certificates (PEM files, comma-separated), the chain as the device sends it (one PEM file,
// leaf first), separated by tabs. Each answer line: name, "accept" or "refuse", the JDK's reason.
//
// The chain is judged as the JDK's TLS server judges a client's chain (sun.security.validator's
// PKIXValidator): the chain is cut before its first uploaded certificate (the same certificate, or
// the same subject and key), which becomes the trust anchor; what is left goes to
// CertPathValidator ("PKIX"), revocation off, at the given time. A chain whose first certificate
// is uploaded is accepted as is.
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

public final class PkixVerdict {
    private static final CertificateFactory X509 = factory();

    private static CertificateFactory factory() {
        try {
            return CertificateFactory.getInstance("X.509");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<X509Certificate> read(String file) throws Exception {
        List<X509Certificate> out = new ArrayList<>();
        try (InputStream in = new FileInputStream(file)) {
            for (var c : X509.generateCertificates(in))
                out.add((X509Certificate) c);
        }
        return out;
    }

    private static boolean isUploaded(X509Certificate c, List<X509Certificate> uploaded) {
        for (X509Certificate t : uploaded)
            if (t.equals(c) || (t.getSubjectX500Principal().equals(c.getSubjectX500Principal()) &&
                                Arrays.equals(t.getPublicKey().getEncoded(), c.getPublicKey().getEncoded())))
                return true;
        return false;
    }

    private static String verdict(long at, String[] uploadedFiles, String chainFile) {
        List<X509Certificate> uploaded = new ArrayList<>();
        try {
            for (String f : uploadedFiles)
                uploaded.addAll(read(f));
        } catch (Exception e) {
            return "refuse\tuploaded certificate unreadable: " + e;
        }
        List<X509Certificate> chain;
        try {
            chain = read(chainFile);
        } catch (Exception e) {
            return "refuse\tchain unreadable: " + e;
        }
        int cut = chain.size();
        for (int i = 0; i < chain.size(); ++i)
            if (isUploaded(chain.get(i), uploaded)) {
                cut = i;
                break;
            }
        if (cut == 0)
            return "accept\tthe device certificate is itself uploaded";
        try {
            Set<TrustAnchor> anchors = new HashSet<>();
            for (X509Certificate t : uploaded)
                anchors.add(new TrustAnchor(t, null));
            PKIXParameters parameters = new PKIXParameters(anchors);
            parameters.setRevocationEnabled(false);
            parameters.setDate(new Date(at * 1000));
            CertPathValidator.getInstance("PKIX")
                .validate(X509.generateCertPath(chain.subList(0, cut)), parameters);
            return "accept\tvalid";
        } catch (Exception e) {
            return "refuse\t" + e.toString().replace('\t', ' ').replace('\n', ' ');
        }
    }

    public static void main(String[] args) throws Exception {
        for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            if (line.isEmpty())
                continue;
            String[] f = line.split("\t", -1);
            String[] uploaded = f[2].isEmpty() ? new String[0] : f[2].split(",");
            System.out.println(f[0] + "\t" + verdict(Long.parseLong(f[1]), uploaded, f[3]));
        }
    }
}
