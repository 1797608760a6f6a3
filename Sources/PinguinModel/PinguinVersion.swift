/// This build's version, shown by `pinguind --version`, `system.version` and the plugin catalogue.
public enum PinguinVersion {
    public static let current = "0.1.0-dev"
}
